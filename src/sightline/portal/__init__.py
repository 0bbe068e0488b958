"""The portal: Sightline's web dashboards, served by the app at `GET /` (docs/portal.md).

The front end's sources are in `portal/` at the repository's root; `make portal` bundles them with esbuild
(`portal/build.mjs`) into `static/` beside this file, which ships in the Python package, so a pip-installed
Sightline serves the portal without Node. The page reads nothing but the public API, with the signed-in
user's token, and asks nothing of another host.
"""
