"""``ftbot doctor`` and ``/finetune doctor``: every prerequisite of a first fine-tuning job, checked in a
fixed order with a named verdict, the reason and the fix (README.md, "Preflight: ftbot doctor").

Checks (stable names): settings, credential, subscription, providers, project, role, models, slack,
store, then local_models. The Azure ones use the official management clients and skip on the local
backend. ``commands.doctor`` holds the values (what ``bot.ui.doctor`` renders), ``runner`` the order,
``probe`` what a run works with, one module per group of checks, ``startup`` what ``ftbot serve`` runs.
"""
