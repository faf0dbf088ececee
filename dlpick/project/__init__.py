"""Projects: render a template atomically, overlay into an existing folder."""
