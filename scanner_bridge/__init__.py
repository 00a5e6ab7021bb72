"""Scanner bridge: hot-folder uploader for the scanner PC (built in its own issue)."""
