"""Every block, action and callback id ftbot registers or renders, and the shape of Slack's own ids,
in one place.

``tests/bot/listeners/test_manifest.py`` checks manifest.yaml against what the app registers.
"""

from __future__ import annotations

import re
from enum import StrEnum

SLASH_COMMAND = "/finetune"

#: A member: ``U…``, or ``W…`` for an Enterprise Grid user.
USER_ID = re.compile(r"^[UW][A-Z0-9]{2,30}$")
#: A user group (FTBOT_APPROVERS may name one): ``S…``.
USER_GROUP_ID = re.compile(r"^S[A-Z0-9]{2,30}$")
#: A conversation: ``C…`` a channel, ``G…`` a private channel or group DM, ``D…`` a direct message.
CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{2,30}$")


class Action(StrEnum):
    CANCEL = "job_cancel"
    DEPLOY = "job_deploy"
    DEPLOY_OPTIONS = "job_deploy_options"  # opens the Deploy dialog: a checkpoint, a SKU
    TEST_CHAT = "endpoint_test_chat"
    TEAR_DOWN = "endpoint_tear_down"
    APPROVE = "approval_approve"
    REJECT = "approval_reject"
    PAUSE = "job_pause"
    RESUME = "job_resume"
    EVALUATE = "job_evaluate"  # the fine-tuned model against its base model, on held-out examples
    RERUN = "job_rerun"  # opens the wizard pre-filled with a finished job's choices
    DEPLOY_BEST = "job_deploy_best_checkpoint"  # the Deploy dialog with the best checkpoint chosen
    DEPLOY_CHOSEN = "job_deploy_chosen_checkpoint"  # the Deploy dialog with a given checkpoint chosen
    # deploy dialog inputs
    DEPLOY_CHECKPOINT = "deploy_checkpoint"
    DEPLOY_SKU = "deploy_sku"
    DEPLOY_TARGET = "deploy_target"
    ONCALL_ACKNOWLEDGE = "oncall_acknowledge"
    # wizard inputs
    BASE_MODEL = "wizard_base_model"
    TRAINING_FILE = "wizard_training_file"
    TRAINING_URL = "wizard_training_url"
    TRAINING_EXISTING = "wizard_training_existing"
    VALIDATION_MODE = "wizard_validation_mode"
    VALIDATION_SPLIT = "wizard_validation_split"
    VALIDATION_FILE = "wizard_validation_file"
    VALIDATION_URL = "wizard_validation_url"
    VALIDATION_EXISTING = "wizard_validation_existing"
    PARAMS_MODE = "wizard_params_mode"
    EPOCHS = "wizard_epochs"
    BATCH_SIZE = "wizard_batch_size"
    LR_MULTIPLIER = "wizard_lr_multiplier"
    SUFFIX = "wizard_suffix"
    METHOD = "wizard_method"
    BETA = "wizard_beta"
    TRAINING_TYPE = "wizard_training_type"
    # test chat modal inputs
    CHAT_PROMPT = "chat_prompt"
    CHAT_SYSTEM = "chat_system"
    CHAT_TEMPERATURE = "chat_temperature"
    CHAT_MAX_TOKENS = "chat_max_tokens"
    CHAT_WITH_BASE = "chat_with_base"
    # App Home's settings (approvers, allowed channels): the button and the modal's inputs
    SETTINGS_EDIT = "home_settings_edit"
    SETTINGS_APPROVERS = "settings_approvers"
    SETTINGS_CHANNELS = "settings_channels"


class Block(StrEnum):
    HELP = "help"
    ERROR = "error"
    CARD_HEADER = "card_header"
    CARD_FIELDS = "card_fields"
    CARD_STATE = "card_state"
    CARD_ACTIONS = "card_actions"
    CARD_CONTEXT = "card_context"
    APPROVAL_TEXT = "approval_text"
    APPROVAL_ACTIONS = "approval_actions"
    BUDGET_NOTICE = "budget_notice"  # the channel message at 80% / 100% of its monthly budget
    ONCALL_TEXT = "oncall_text"
    ONCALL_ACTIONS = "oncall_actions"
    ONCALL_TAKEN = "oncall_taken"
    # /finetune doctor (one section per check: f"{DOCTOR_CHECK}.{name}")
    DOCTOR_SUMMARY = "doctor_summary"
    DOCTOR_CHECK = "doctor_check"
    CARD_ENDPOINT = "card_endpoint"
    CARD_APPROVAL = "card_approval"
    CARD_ERROR = "card_error"
    CARD_EVALUATION = "card_evaluation"
    # an evaluation's thread post (one section per differing example: f"{EVAL_EXAMPLE}.{n}")
    EVAL_SUMMARY = "eval_summary"
    EVAL_TABLE = "eval_table"
    EVAL_EXAMPLE = "eval_example"
    EVAL_NOTE = "eval_note"
    EVAL_ACTIONS = "eval_actions"
    # thread posts
    THREAD_TEXT = "thread_text"
    THREAD_DETAILS = "thread_details"
    THREAD_ACTIONS = "thread_actions"
    CHAT_PROMPT_TEXT = "chat_prompt_text"
    CHAT_REPLY_TEXT = (
        "chat_reply_text"  # the reply may span several sections: chat_reply_text, chat_reply_text.2…
    )
    CHAT_USAGE = "chat_usage"
    CHAT_SIDE_BY_SIDE = "chat_side_by_side"  # base | fine-tuned, two columns
    CHAT_BASE_USAGE = "chat_base_usage"
    # lists, App Home (one section per item: f"{LIST_ITEM}.{id}")
    LIST_TITLE = "list_title"
    LIST_ITEM = "list_item"
    LIST_MORE = "list_more"
    LIST_HINT = "list_hint"
    HOME_INTRO = "home_intro"
    HOME_JOBS = "home_jobs"
    HOME_JOB = "home_job"
    HOME_ENDPOINTS = "home_endpoints"
    HOME_ENDPOINT = "home_endpoint"
    HOME_MORE_JOBS = "home_more_jobs"
    HOME_MORE_ENDPOINTS = "home_more_endpoints"
    # validation report (a validation file's report gets the suffix ".validation_file")
    VALIDATION_SUMMARY = "validation_summary"
    VALIDATION_STATS = "validation_stats"
    VALIDATION_ESTIMATE = "validation_estimate"
    VALIDATION_ERRORS = "validation_errors"
    VALIDATION_WARNINGS = "validation_warnings"
    VALIDATION_COUNTS = "validation_counts"
    # wizard
    BASE_MODEL = "base_model"
    TRAINING_FILE = "training_file"
    TRAINING_URL = "training_url"
    TRAINING_EXISTING = "training_existing"
    VALIDATION_MODE = "validation_mode"
    VALIDATION_SPLIT = "validation_split"
    VALIDATION_FILE = "validation_file"
    VALIDATION_URL = "validation_url"
    VALIDATION_EXISTING = "validation_existing"
    PARAMS_MODE = "params_mode"
    EPOCHS = "epochs"
    BATCH_SIZE = "batch_size"
    LR_MULTIPLIER = "lr_multiplier"
    SUFFIX = "suffix"
    METHOD = "method"
    BETA = "beta"
    TRAINING_TYPE = "training_type"
    REVIEW = "review"
    REVIEW_TIERS = "review_tiers"
    WIZARD_INTRO = "wizard_intro"
    WIZARD_TRAINING = "wizard_training"
    WIZARD_VALIDATION = "wizard_validation"
    WIZARD_PARAMS = "wizard_params"
    LOADING = "loading"
    REVIEW_ESTIMATE = "review_estimate"
    REVIEW_BLOCKED = "review_blocked"
    REVIEW_NOT_CHECKED = "review_not_checked"  # data kept by the service and not validated here, and why
    SUBMITTED = "submitted"
    # chat modal
    CHAT_PROMPT = "chat_prompt"
    CHAT_SYSTEM = "chat_system"
    CHAT_TEMPERATURE = "chat_temperature"
    CHAT_MAX_TOKENS = "chat_max_tokens"
    CHAT_ENDPOINT = "chat_endpoint"
    CHAT_WITH_BASE = "chat_with_base"
    # deploy dialog
    DEPLOY_INTRO = "deploy_intro"
    DEPLOY_CHECKPOINT = "deploy_checkpoint"
    DEPLOY_SKU = "deploy_sku"
    DEPLOY_TARGET = "deploy_target"
    DEPLOY_NOTE = "deploy_note"
    DEPLOY_BUDGET = "deploy_budget"
    # reruns and comparisons
    CARD_RERUN = "card_rerun"
    RERUN_INTRO = "rerun_intro"
    COMPARE_TITLE = "compare_title"
    COMPARE_FIELDS = "compare_fields"  # one fields section per row group: compare_fields.<group>
    COMPARE_NOTE = "compare_note"
    # costs (issue #17): the card's money line, the review's estimate, /finetune costs and App Home
    CARD_COSTS = "card_costs"
    REVIEW_COST = "review_cost"
    COSTS_TITLE = "costs_title"
    COSTS_CHANNELS = "costs_channels"
    COSTS_USERS = "costs_users"
    COSTS_LIVE = "costs_live"
    COSTS_JOBS = "costs_jobs"
    COSTS_NOTE = "costs_note"
    HOME_COSTS = "home_costs"
    HOME_SETTINGS = "home_settings"  # a workspace's approvers and allowed channels (approvers see it)
    CONFIG_SETTINGS = "config_settings"
    HOME_SETTINGS_ACTIONS = "home_settings_actions"  # its Edit settings button
    # the settings modal (opened from App Home) and what it shows once saved
    SETTINGS_INTRO = "settings_intro"
    SETTINGS_APPROVERS = "settings_approvers"
    SETTINGS_GROUPS = "settings_groups"
    SETTINGS_CHANNELS = "settings_channels"
    SETTINGS_SAVED = "settings_saved"


class Callback(StrEnum):
    WIZARD = "finetune_wizard"
    REVIEW = "finetune_review"
    TEST_CHAT = "endpoint_test_chat_modal"
    LOADING = "finetune_loading"
    SUBMITTED = "finetune_submitted"
    DEPLOY = "job_deploy_modal"
    RERUN = "job_rerun_wizard"  # the wizard, pre-filled; its metadata is the job it reruns
    SETTINGS = "workspace_settings_modal"  # App Home's Edit settings; its metadata is the version shown
