"""Settings from the environment (or a ``.env`` file), as README's Configuration table lists them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.runtime.deploy_targets import parse_targets
from bot.scheduling.oncall_ids import OncallIds, parse_oncall
from commands.costs.budgets import Budgets, parse_budgets
from commands.models import DeployTarget

DEFAULT_SLACK_API_URL = "https://slack.com/api/"
DEFAULT_ARM_ENDPOINT = "https://management.azure.com"
DEFAULT_DATA_URL_HOSTS = (
    "*.blob.core.windows.net",
    "files.slack.com",
    "*.slack-edge.com",
)


def _split_csv(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    # Slack
    slack_bot_token: SecretStr | None = Field(default=None, alias="SLACK_BOT_TOKEN")
    slack_signing_secret: SecretStr | None = Field(default=None, alias="SLACK_SIGNING_SECRET")
    slack_app_token: SecretStr | None = Field(default=None, alias="SLACK_APP_TOKEN")
    slack_api_url: str = Field(default=DEFAULT_SLACK_API_URL, alias="SLACK_API_URL")
    # OAuth mode (many workspaces, one ftbot): set both and leave SLACK_BOT_TOKEN unset
    slack_client_id: str | None = Field(default=None, alias="SLACK_CLIENT_ID")
    slack_client_secret: SecretStr | None = Field(default=None, alias="SLACK_CLIENT_SECRET")
    slack_state_secret: SecretStr | None = Field(default=None, alias="SLACK_STATE_SECRET")

    # ftbot
    backend: Literal["local", "azure", "foundry"] = Field(default="local", alias="FTBOT_BACKEND")
    data_dir: Path = Field(default=Path("./ftbot-data"), alias="FTBOT_DATA_DIR")
    database_url: str | None = Field(default=None, alias="FTBOT_DATABASE_URL")
    approvers: Annotated[list[str], NoDecode] = Field(default_factory=list, alias="FTBOT_APPROVERS")
    allowed_channels: Annotated[list[str], NoDecode] = Field(
        default_factory=list, alias="FTBOT_ALLOWED_CHANNELS"
    )
    poll_seconds: float = Field(default=30, gt=0, le=3600, alias="FTBOT_POLL_SECONDS")
    data_url_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: list(DEFAULT_DATA_URL_HOSTS), alias="FTBOT_DATA_URL_HOSTS"
    )
    endpoint_idle_hours: float = Field(default=24, gt=0, alias="FTBOT_ENDPOINT_IDLE_HOURS")
    endpoint_ttl_hours: float | None = Field(default=None, gt=0, alias="FTBOT_ENDPOINT_TTL_HOURS")
    # costs (issue #17): the price table (a YAML file, read and checked when serve starts)
    prices: Path | None = Field(default=None, alias="FTBOT_PRICES")
    #: monthly budgets per channel, `CHANNEL_ID=AMOUNT,…,default=AMOUNT` in the price table's currency
    budgets: Annotated[Budgets, NoDecode] = Field(default_factory=Budgets, alias="FTBOT_BUDGETS")
    log_level: str = Field(default="INFO", alias="FTBOT_LOG_LEVEL")
    # operations (issue #19): metrics port, log format, on-call paging, which processes a serve runs
    metrics_port: int | None = Field(default=None, ge=1, le=65535, alias="FTBOT_METRICS_PORT")
    log_format: Literal["text", "json"] = Field(default="text", alias="FTBOT_LOG_FORMAT")
    oncall: Annotated[OncallIds, NoDecode] = Field(default_factory=OncallIds, alias="FTBOT_ONCALL")
    role: Literal["all", "web", "scheduler"] = Field(default="all", alias="FTBOT_ROLE")
    slack_updates_per_minute: float = Field(default=45, gt=0, le=600, alias="FTBOT_SLACK_UPDATES_PER_MINUTE")

    # local backend
    local_models: Annotated[dict[str, Path], NoDecode] = Field(
        default_factory=dict, alias="FTBOT_LOCAL_MODELS"
    )
    local_tokens_per_minute: int = Field(default=200_000, ge=1, alias="FTBOT_LOCAL_TOKENS_PER_MINUTE")
    local_requests_per_minute: int = Field(default=1_000, ge=1, alias="FTBOT_LOCAL_REQUESTS_PER_MINUTE")
    #: per-epoch checkpoints a local job keeps: the most recent N, plus the best by validation loss
    local_checkpoints: int = Field(default=5, ge=0, le=1000, alias="FTBOT_LOCAL_CHECKPOINTS")
    #: training precision on CPU: auto (bf16 mixed precision where the CPU has native bfloat16), bf16, fp32
    local_precision: Literal["auto", "bf16", "fp32"] = Field(default="auto", alias="FTBOT_LOCAL_PRECISION")

    # Azure backend
    azure_subscription_id: str | None = Field(default=None, alias="AZURE_SUBSCRIPTION_ID")
    azure_resource_group: str | None = Field(default=None, alias="AZURE_RESOURCE_GROUP")
    azure_ai_project: str | None = Field(default=None, alias="AZURE_AI_PROJECT")
    azure_registry: str = Field(default="azureml", alias="AZURE_REGISTRY")
    azure_models: Annotated[list[str], NoDecode] = Field(default_factory=list, alias="FTBOT_AZURE_MODELS")

    # Foundry backend (Azure OpenAI v1 API + Azure Resource Manager); also AZURE_SUBSCRIPTION_ID and
    # AZURE_RESOURCE_GROUP above
    azure_openai_endpoint: str | None = Field(default=None, alias="AZURE_OPENAI_ENDPOINT")
    azure_openai_api_key: SecretStr | None = Field(default=None, alias="AZURE_OPENAI_API_KEY")
    azure_openai_account: str | None = Field(default=None, alias="AZURE_OPENAI_ACCOUNT")
    azure_resource_manager_endpoint: str = Field(
        default=DEFAULT_ARM_ENDPOINT, alias="AZURE_RESOURCE_MANAGER_ENDPOINT"
    )
    foundry_models: Annotated[list[str], NoDecode] = Field(default_factory=list, alias="FTBOT_FOUNDRY_MODELS")
    # evaluation and side-by-side test chat: where a base model answers (`base-model=deployment,...`)
    foundry_base_deployments: str | None = Field(default=None, alias="FTBOT_FOUNDRY_BASE_DEPLOYMENTS")
    azure_base_endpoints: str | None = Field(default=None, alias="FTBOT_AZURE_BASE_ENDPOINTS")
    # evaluation's optional judge: an OpenAI-compatible chat endpoint (all three, or none)
    eval_judge_url: str | None = Field(default=None, alias="FTBOT_EVAL_JUDGE_URL")
    eval_judge_key: SecretStr | None = Field(default=None, alias="FTBOT_EVAL_JUDGE_KEY")
    eval_judge_model: str | None = Field(default=None, alias="FTBOT_EVAL_JUDGE_MODEL")
    foundry_training_type: Literal["Standard", "GlobalStandard", "Developer"] = Field(
        default="Standard", alias="FTBOT_FOUNDRY_TRAINING_TYPE"
    )
    foundry_deployment_sku: Literal["Standard", "GlobalStandard", "Developer"] = Field(
        default="Standard", alias="FTBOT_FOUNDRY_DEPLOYMENT_SKU"
    )
    # azure and foundry: projects (accounts) to deploy to besides the training one, `home`
    deploy_targets: Annotated[list[DeployTarget], NoDecode] = Field(
        default_factory=list, alias="FTBOT_DEPLOY_TARGETS"
    )

    @field_validator(
        "approvers", "allowed_channels", "data_url_hosts", "azure_models", "foundry_models", mode="before"
    )
    @classmethod
    def _csv(cls, value: object) -> object:
        return _split_csv(value)

    @field_validator("approvers")
    @classmethod
    def _slack_ids(cls, value: list[str]) -> list[str]:
        bad = [v for v in value if not (v[:1] in ("U", "W", "S") and v[1:].isalnum() and v.isupper())]
        if bad:
            raise ValueError(f"expected Slack user ids (U…/W…) or user-group ids (S…), got {', '.join(bad)}")
        return value

    @field_validator("budgets", mode="before")
    @classmethod
    def _budgets(cls, value: object) -> object:
        return parse_budgets(value) if isinstance(value, str) else value

    @field_validator("deploy_targets", mode="before")
    @classmethod
    def _deploy_targets(cls, value: object) -> object:
        return parse_targets(value) if isinstance(value, str) else value

    @field_validator("oncall", mode="before")
    @classmethod
    def _oncall(cls, value: object) -> object:
        return parse_oncall(value) if isinstance(value, str) or value is None else value

    @field_validator("local_models", mode="before")
    @classmethod
    def _name_paths(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        out: dict[str, str] = {}
        for item in (part.strip() for part in value.split(",")):
            if not item:
                continue
            name, sep, path = item.partition("=")
            if not sep or not name.strip() or not path.strip():
                raise ValueError(f"expected name=/path/to/model, got {item!r}")
            out[name.strip()] = path.strip()
        return out

    @field_validator("azure_openai_endpoint", "azure_resource_manager_endpoint")
    @classmethod
    def _https_endpoint(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None or not value.strip():
            return DEFAULT_ARM_ENDPOINT if info.field_name == "azure_resource_manager_endpoint" else None
        value = value.strip().rstrip("/")
        parts = urlsplit(value)
        loopback = parts.hostname in ("127.0.0.1", "localhost", "::1")
        if not parts.hostname or not (parts.scheme == "https" or (parts.scheme == "http" and loopback)):
            raise ValueError("must be an https URL (plain http only for a loopback host)")
        return value

    @field_validator("slack_api_url")
    @classmethod
    def _api_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http(s) URL such as https://slack.com/api/")
        return value if value.endswith("/") else value + "/"  # slack_sdk joins method names onto it

    @model_validator(mode="after")
    def _azure_complete(self) -> Settings:
        if self.backend == "azure":
            missing = [
                name
                for name, val in (
                    ("AZURE_SUBSCRIPTION_ID", self.azure_subscription_id),
                    ("AZURE_RESOURCE_GROUP", self.azure_resource_group),
                    ("AZURE_AI_PROJECT", self.azure_ai_project),
                )
                if not val
            ]
            if missing:
                raise ValueError(f"FTBOT_BACKEND=azure needs {', '.join(missing)}")
        return self

    @property
    def socket_mode(self) -> bool:
        return self.slack_app_token is not None

    @property
    def oauth_mode(self) -> bool:
        """Many workspaces over Slack's OAuth install: a client id and secret, and no bot token."""
        return bool(self.slack_client_id and self.slack_client_secret) and self.slack_bot_token is None

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'ftbot.db').resolve()}"

    def secret_values(self) -> list[str]:
        """Every secret setting that is set (tokens, signing secret, keys): what logs scrub."""
        values = (getattr(self, name) for name in type(self).model_fields)
        return [v.get_secret_value() for v in values if isinstance(v, SecretStr) and v.get_secret_value()]

    def serve_problems(self) -> list[str]:
        """What `ftbot serve` still needs, one line per problem, naming the variable."""
        problems: list[str] = []
        if self.oauth_mode:
            problems.extend(self.oauth_problems())
        elif self.slack_bot_token is None:
            problems.append(
                "SLACK_BOT_TOKEN is not set: the bot token (xoxb-…) from your Slack app's OAuth page"
            )
        elif not self.slack_bot_token.get_secret_value().startswith("xoxb-"):
            problems.append("SLACK_BOT_TOKEN must be a bot token starting with xoxb-")
        if self.slack_signing_secret is None and not self.socket_mode:
            problems.append(
                "SLACK_SIGNING_SECRET is not set: the signing secret from your Slack app's Basic Information "
                "page (or set SLACK_APP_TOKEN for Socket Mode)"
            )
        if self.slack_app_token is not None and not self.slack_app_token.get_secret_value().startswith(
            "xapp-"
        ):
            problems.append(
                "SLACK_APP_TOKEN must be an app-level token starting with xapp- (scope connections:write)"
            )
        if self.backend == "foundry":
            problems.extend(self.foundry_problems())
        from bot.evaluation.judge import judge_problems

        problems.extend(judge_problems(self.eval_judge_url, self.eval_judge_key, self.eval_judge_model))
        return problems

    def oauth_problems(self) -> list[str]:
        """What OAuth mode (SLACK_CLIENT_ID and SLACK_CLIENT_SECRET, no SLACK_BOT_TOKEN) still needs."""
        problems = []
        if self.socket_mode:
            problems.append(
                "SLACK_APP_TOKEN is set: OAuth mode (SLACK_CLIENT_ID) serves its install pages over HTTP; "
                'unset SLACK_APP_TOKEN and set the request URLs (README, "Many workspaces")'
            )
        return problems

    def foundry_problems(self) -> list[str]:
        """One line per setting FTBOT_BACKEND=foundry needs and lacks."""
        needed = (
            ("AZURE_OPENAI_ENDPOINT", self.azure_openai_endpoint, "the resource's or project's endpoint"),
            ("AZURE_SUBSCRIPTION_ID", self.azure_subscription_id, "the subscription of the resource"),
            ("AZURE_RESOURCE_GROUP", self.azure_resource_group, "the resource group of the resource"),
            ("AZURE_OPENAI_ACCOUNT", self.azure_openai_account, "the resource's name (for deployments)"),
        )
        return [
            f"{name} is not set: {meaning} (FTBOT_BACKEND=foundry)"
            for name, value, meaning in needed
            if not value
        ]


def describe_validation_error(err: ValidationError) -> list[str]:
    """One line per problem, naming the environment variable, never echoing the value."""
    lines = []
    for e in err.errors():
        loc = e.get("loc") or ()
        name = str(loc[0]) if loc else "settings"
        msg = e.get("msg", "invalid").removeprefix("Value error, ")
        lines.append(f"{name}: {msg}" if loc else msg)
    return lines
