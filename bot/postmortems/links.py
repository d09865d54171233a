"""Links to a postmortem's web page that work without logging in, yet cannot be guessed from its number."""

import hashlib
import hmac


class PostmortemLinks:
    """`url(number)` signs the incident number with a server secret; `valid(number, key)` checks it."""

    def __init__(self, base_url: str, secret: str) -> None:
        self.base_url = base_url.rstrip("/")
        self._secret = secret.encode()

    def key(self, number: int) -> str:
        return hmac.new(self._secret, f"postmortem:{number}".encode(), hashlib.sha256).hexdigest()[:32]

    def url(self, number: int) -> str:
        return f"{self.base_url}/postmortems/{number}?key={self.key(number)}"

    def valid(self, number: int, key: str) -> bool:
        return hmac.compare_digest(self.key(number), key)
