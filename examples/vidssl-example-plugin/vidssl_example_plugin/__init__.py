"""An example third-party vidssl plugin."""
