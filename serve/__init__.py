"""``draftgate serve``: the review app in the browser for a team.

Each browser session signs in as one reviewer (a token from ``[serve.reviewers]``, or a name
typed on loopback when no tokens are configured) and gets its own review app process, started
by the server with that reviewer's name on its command line: the name never travels in a
place the browser could change. The ledger's leases keep the processes' drafts apart; the
server's live registry lets one name review in one tab at a time.

Loads no stage package: the review app runs as a child process (``draftgate review``).
"""
