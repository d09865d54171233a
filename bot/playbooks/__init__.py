"""Playbooks (process as code): file format, loading, lint, matching and templates (Slack-free).

    schema.py      the file format as pydantic models (docs/playbooks.md describes it)
    yamlsource.py  bounded YAML reading that keeps line numbers
    loader.py      files and folders into Playbooks, with every problem's file and line
    checks.py      references, templates and match rules, beyond the schema
    lint.py        `warroom playbooks lint`
    matcher.py     which playbooks an alert starts
    context.py     what templates see, built from plain values
    templating.py  the Jinja2 sandbox and its rendering modes
    render.py      `warroom playbooks render` (it pulls in the alert parsers: import it on its own)

Submodules are imported where they are used; this package imports nothing, so importing one
part (the tables, say) does not load Jinja2 and YAML.
"""
