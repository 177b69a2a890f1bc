"""The core: frozen models, normalisation, the pure drift function, settings values, selection.

Standard library only (and idna, for email domains): no I/O, no vendor clients."""
