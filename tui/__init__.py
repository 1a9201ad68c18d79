"""The review TUI (Textual). Never imports openai or instructor."""
