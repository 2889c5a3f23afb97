"""The Send page: compose a share (text or files, code or link, options) and follow each one on its card."""
