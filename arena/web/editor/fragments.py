"""The form's htmx fragments: the live prompt preview and the prompt field filled from a
strategy template."""
from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from arena.web.base import login_required
from arena.web.editor.preview import preview_context
from arena.web.editor.templates import STRATEGY_TEMPLATES, strategy_prompt
from bots import prompts
from bots.models import Bot
from bots.selectors import bots_of


@login_required
@require_POST
def prompt_preview(request: HttpRequest) -> HttpResponse:
    """The prompt as the next turn would send it (``bots.prompts.render``), for the form's
    current name, prompt, symbols and sandbox flag; an edited bot's account and history are
    its own (``bot``: one of the user's, else a 404, as its edit page)."""
    bot_id = request.POST.get("bot", "")
    bot = get_object_or_404(bots_of(user_id=request.user.pk), pk=int(bot_id)) if bot_id.isdigit() else None
    mode = bot.mode if bot else request.POST.get("mode", Bot.Mode.PAPER)
    if mode not in Bot.Mode.values:
        mode = Bot.Mode.PAPER
    ctx = preview_context(now=timezone.now(), name=request.POST.get("name", ""),
                          symbols=request.POST.getlist("symbols"), sandbox="sandbox_enabled" in request.POST,
                          mode=mode, bot=bot)
    rendered = prompts.render(request.POST.get("prompt", ""), ctx)
    return render(request, "web/editor/_preview.html", {"rendered": rendered})


@login_required
@require_GET
def strategy_field(request: HttpRequest) -> HttpResponse:
    """The prompt field holding the chosen strategy's template (the current text if none)."""
    name = request.GET.get("strategy", "")
    text = strategy_prompt(name) if name in STRATEGY_TEMPLATES else request.GET.get("prompt", "")
    response = render(request, "web/editor/_prompt_field.html", {"values": {"prompt": text}, "errors": {}})
    response["HX-Trigger"] = "prompt-filled"  # the preview renders the new text
    return response
