"""The evaluation builders where a checkpoint is concerned: with nothing live serving the checkpoint the
answer offers Deploy with that checkpoint chosen (a button naming the job and the checkpoint), and the
result in the thread says which checkpoint it evaluated."""

from __future__ import annotations

from bot.ui.evaluation import evaluation_post, no_endpoint_blocks
from bot.ui.ids import Action
from bot.ui.ids import Block as B
from tests.bot.ui.helpers import assert_message_ok, block, buttons


def test_without_a_checkpoint_it_offers_the_plain_deploy() -> None:
    blocks = no_endpoint_blocks("job-1", "Job job-1 has no live endpoint to evaluate.")
    assert_message_ok(blocks)
    deploy = buttons(blocks, B.EVAL_ACTIONS)["Deploy"]
    assert (deploy["action_id"], deploy["value"]) == (Action.DEPLOY, "job-1")


def test_for_a_checkpoint_it_offers_deploy_with_that_checkpoint_chosen() -> None:
    blocks = no_endpoint_blocks("job-1", "no live endpoint serving checkpoint 2 <!channel>", 2)
    assert_message_ok(blocks)
    assert list(buttons(blocks, B.EVAL_ACTIONS)) == ["Deploy checkpoint 2"]
    deploy = buttons(blocks, B.EVAL_ACTIONS)["Deploy checkpoint 2"]
    assert (deploy["action_id"], deploy["value"]) == (Action.DEPLOY_CHOSEN, "job-1:2")
    assert "confirm" not in deploy  # it opens the Deploy dialog, which says what it bills
    assert block(blocks, B.EVAL_SUMMARY)["text"]["text"] == (
        ":information_source: no live endpoint serving checkpoint 2 &lt;!channel&gt;"
    )


def test_the_result_says_which_checkpoint_it_evaluated() -> None:
    data: dict[str, object] = {
        "state": "succeeded",
        "headline": "Checkpoint 2: chrF 50.0 vs base 0.0 on 4 held-out examples",
        "endpoint": "ftbot-1-2",
        "checkpoint": 2,
        "base_model": "m",
        "requested_by": "U0ASKER",
        "examples": 0,
    }
    text, _ = evaluation_post(data)
    assert text == (
        ":bar_chart: *Evaluation* (asked by <@U0ASKER>): Checkpoint 2: chrF 50.0 vs base 0.0 on 4 held-out "
        "examples\nEvaluated checkpoint 2 (endpoint `ftbot-1-2`).\nBase model: `m`."
    )
    final, _ = evaluation_post({**data, "checkpoint": None, "headline": "chrF 50.0"})
    assert "checkpoint" not in final.lower()
