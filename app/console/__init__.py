"""The console: the pages CRM managers, support and responsible-gaming officers use in a
browser, served by the worker's web server under ``/console/`` behind the same door, roles and
access log as the JSON views (docs/console.md)."""
