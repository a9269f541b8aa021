"""The joint online diaspora portal: public pages in eight languages, feeds, the Atlas and the Mini App.

`portal_routes(session_factory, settings)` gives the aiohttp routes the web process mounts
(see bot/web.py); templates and static files ship inside this package.
"""

from bot.portal.routes import event_json_ld, portal_routes, setup_portal

__all__ = ["event_json_ld", "portal_routes", "setup_portal"]
