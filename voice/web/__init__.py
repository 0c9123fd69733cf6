"""Static files of the call page (HTML, JS, CSS; no build step)."""
