"""Live Zendesk state: the LiveSource port and its implementations (the snapshot file here)."""
