"""Analytics of a user's bots (``/api/analytics/``): reads and pure helpers, no writes.

- ``params``: instants, ranges, bot ids and runs from the query string's text;
- ``series``: interval boundaries and the sampled value series (one SQL statement of seeks);
- ``performance``: a bot's series with drawdowns and exposure, comparisons, period figures;
- ``runs``: a bot's runs and their figures, from the daily rollups only;
- ``trades``: closed positions grouped, bucketed and ranked in SQL, and summaries across bots;
- ``usage``: the language models' decisions, tokens, cost and latency.

Who may see which bot is the caller's business (``bots.selectors.bots_of``): these take ids.
"""
