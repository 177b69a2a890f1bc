"""Live Zendesk state: the reader (the only zenpy importer, :mod:`checker.live.zendesk`) and
what it stands on — credentials, the guarded one-origin session with its deadline, pacing and
retries, the bounded work window, listings and shape checks."""
