"""A loopback stand-in for the Slack Web API (used by `ftbot demo` and the tests) that records every call.

- Answers the Web API methods ftbot uses (auth.test, chat.*, views.*, files.* for files_upload_v2,
  usergroups.users.list, users.info, conversations.history and .replies with message metadata) and keeps
  the resulting messages so tests can read a channel's job card and its thread.
- Serves uploaded/registered files at ``/files/<id>`` only to the bot token (anyone else gets Slack's
  200 HTML login page, as the real file host does).
- ``fail_next(method, status, retry_after=..., times=n)`` makes the next calls answer 429/5xx.
- Streams a message (``chat.startStream``/``appendStream``/``stopStream``) the way Slack shows it: the
  markdown so far as one ``markdown`` block, the stop's blocks under it. ``refuse_next(method, error)``
  makes the next calls answer ``ok: false`` with that error (``message_not_in_streaming_state`` for an
  expired stream); ``live_streams_peak`` is the most streams that were open at once.
- ``response_url(...)`` gives loopback response URLs whose posts are recorded too.

One module per group of methods: ``chat`` (messages and streams), ``conversations`` (history, users,
user groups), ``views``, ``files``, ``auth`` (auth.test, OAuth installs, Socket Mode), ``controls``
(what a test makes fail), on the shared ``state``; ``api`` routes each method to its group, ``server``
answers HTTP with it, and ``fake`` starts and stops that server.
"""

from bot.demo.slack.fake import FakeSlack
from bot.demo.slack.records import Call, Message
from bot.demo.slack.server import LOGIN_PAGE

__all__ = ["LOGIN_PAGE", "Call", "FakeSlack", "Message"]
