"""One module per alert source: verify a request and parse its body into `Alert`s."""
