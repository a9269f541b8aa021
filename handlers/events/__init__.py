"""Events, one router per flow:

* form.py: /submit_event, the form and its preview, for representatives (guarded);
* moderation.py: /pending, Approve, Reject and its reason, for the secretariat (guarded);
* manage.py: /my_events, Edit, Cancel, attendees, for representatives (guarded);
* rsvp.py: Going / Maybe / Not going, Add to calendar, follow, reminders off, /reminders;
* feed.py: /calendar, the personal calendar feed.

Texts and keyboards are in bot/views/events.py and bot/views/event_form.py, callback data in
bot/callbacks.py, the form's states in bot/states.py.
"""

from __future__ import annotations

from handlers.events import feed, form, manage, moderation, rsvp
from handlers.events.rsvp import render_event_card

#: The routers in the order updates try them (the order of the one module they came from).
routers = (form.router, moderation.router, manage.router, rsvp.router, feed.router)

__all__ = ["routers", "render_event_card"]
