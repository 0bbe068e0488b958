"""The HTTP API: one router per endpoint family, attached in `sightline.app.create_app`."""
