"""Mobile Text Alerts (API v3): everything that knows MTA's field names, status codes and wire shapes."""
