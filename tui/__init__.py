"""The review app (Textual): the screen of a ``review.ReviewSession``, which does every read
and write.

Never imports openai or instructor (a test checks).
"""

import os

# Textual repaints at most TEXTUAL_FPS times a second and a change waits for the next frame;
# at the default 60 that wait alone is up to 17 ms of every keypress → next draft. Repaints
# happen only when something changed, so a higher cap costs nothing while the reviewer reads.
# (Effective only if set before textual is imported; a user's own setting wins.)
os.environ.setdefault("TEXTUAL_FPS", "120")
