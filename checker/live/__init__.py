"""Live Zendesk state: the :class:`~checker.live.port.LiveSource` port and its two sources —
Zendesk's API (:mod:`checker.live.zendesk_api` over the reader :mod:`checker.live.zendesk`, the
only zenpy importer, and what it stands on: credentials, the guarded one-origin session with its
deadline, pacing and retries, the bounded work window, listings and shape checks) and a snapshot
file (:mod:`checker.live.snapshot`)."""
