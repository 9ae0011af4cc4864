"""The web side: API keys, plain-text errors, create inputs, signed file URLs, stored files, page images and the settings."""
