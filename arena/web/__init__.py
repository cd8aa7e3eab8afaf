"""The arena's pages: Django templates, htmx fragments and a few ES modules.

One module per area (``dashboard``, ``bot_page``, ``boards``, ``editor``, ``accounts``, …),
each with its own ``urlpatterns``; ``arena.web.urls`` puts them together. Pages read
through the same selectors and change state through the same services as the REST API,
so a page and the API can never disagree. Every page is live: ``static/arena/js/app.js``
keeps one ``/ws/arena/`` socket per tab (resuming from the sequence number the page was
rendered at) and turns each event into a DOM event (``arena:<type>`` on ``document.body``);
fragments re-fetch themselves on the events they show (``hx-trigger="arena:position_opened
from:body"``).
"""
