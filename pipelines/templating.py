"""The one Jinja2 environment recon's published HTML is rendered with: autoescaped, so no
input reaches a page unescaped (the desk has its own, pipelines/web/views.py)."""

from jinja2 import Environment, PackageLoader, select_autoescape


def html_environment(package: str) -> Environment:
    """Templates of `package`'s templates/ folder, HTML autoescaped."""
    return Environment(
        loader=PackageLoader(package, "templates"),
        autoescape=select_autoescape(["html"]),
        keep_trailing_newline=True,
    )
