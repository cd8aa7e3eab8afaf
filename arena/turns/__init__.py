"""Trading turns: context, model calls, execution (see ``arena.turns.run``)."""
