"""Where the local backend keeps its state under FTBOT_DATA_DIR (standard library only).

```
<data_dir>/datasets/<id>.jsonl              uploaded datasets
<data_dir>/models/ftbot-tiny/               the built-in base model (save_pretrained folder)
<data_dir>/models/registry/<name>.json      fine-tuned models: base + adapter folder
<data_dir>/jobs/<name>/                     spec.json status.json events.jsonl results.csv pid
                                            worker.log adapter/
<data_dir>/endpoints/<name>/                config.json key (0600) pid port server.log
```
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

TRAINER_MODULE = "bot.backends.local.trainer"
SERVER_MODULE = "bot.backends.local.server"

#: names that become folder names: no separators, no leading dot
SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")

RESULTS_COLUMNS = (
    "step",
    "train_loss",
    "train_mean_token_accuracy",
    "valid_loss",
    "valid_mean_token_accuracy",
)


@dataclass(frozen=True)
class DataDir:
    root: Path

    @property
    def datasets(self) -> Path:
        return self.root / "datasets"

    @property
    def models(self) -> Path:
        return self.root / "models"

    @property
    def registry(self) -> Path:
        return self.root / "models" / "registry"

    @property
    def jobs(self) -> Path:
        return self.root / "jobs"

    @property
    def endpoints(self) -> Path:
        return self.root / "endpoints"

    def job(self, name: str) -> JobDir:
        return JobDir(self.jobs / name)

    def endpoint(self, name: str) -> EndpointDir:
        return EndpointDir(self.endpoints / name)


@dataclass(frozen=True)
class JobDir:
    path: Path

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def spec(self) -> Path:
        return self.path / "spec.json"

    @property
    def status(self) -> Path:
        return self.path / "status.json"

    @property
    def events(self) -> Path:
        return self.path / "events.jsonl"

    @property
    def results(self) -> Path:
        return self.path / "results.csv"

    @property
    def pid(self) -> Path:
        return self.path / "pid"

    @property
    def log(self) -> Path:
        return self.path / "worker.log"

    @property
    def adapter(self) -> Path:
        return self.path / "adapter"

    @property
    def cancel_requested(self) -> Path:
        return self.path / "cancel-requested"


@dataclass(frozen=True)
class EndpointDir:
    path: Path

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def config(self) -> Path:
        return self.path / "config.json"

    @property
    def key(self) -> Path:
        return self.path / "key"

    @property
    def pid(self) -> Path:
        return self.path / "pid"

    @property
    def port(self) -> Path:
        return self.path / "port"

    @property
    def log(self) -> Path:
        return self.path / "server.log"

    @property
    def failed(self) -> Path:
        return self.path / "failed.json"

    @property
    def deleting(self) -> Path:
        return self.path / "deleting"


def marker(module: str, directory: Path) -> str:
    """What a worker's command line contains: ``-m <module> <dir>`` (used to recognise our own pids)."""
    return f"{module} {directory}"
