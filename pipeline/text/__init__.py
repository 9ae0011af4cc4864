"""Plain text, Markdown and HTML documents as segments on one virtual page."""
