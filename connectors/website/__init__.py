"""Website forms -> the hub (exchange 1 of the catalog).

Data flow::

    site builder / form plugin --POST--> protocol.py (header deadline) --> app.py (FastAPI; ratelimit.py)
        --> receive.py: auth.py, body.py (bytes -> data), formats/ (data -> Submission), keys.py (dedup)
        --> committer.py (group commit) --> hub inbox (durable) --> 200 to the sender; hub.wakeup wakes the exchange
    site JSON API <--GET by cursor-- poll.py
    hub inbox + polled API --> connector.py (the ``website`` source) --> the mapping --> CRM lead

``config.py`` is what a mapping may say about its form sources (``source.options``); ``sources.py`` turns
that into the endpoints ``server.py`` serves (``hub serve intake``, see ``cli.py``).
"""

from hub.manifest import lazy_exports

# imported on first use: loading the package (its manifest, at every start) must not import its drivers
_EXPORTS = {"WebsiteConnector": "connectors.website.connector"}

__all__ = ["WebsiteConnector"]

__getattr__ = lazy_exports(__name__, _EXPORTS)
