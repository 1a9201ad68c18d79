"""The review app (Textual). Reads the queue and writes decisions only through ``ledger``."""
