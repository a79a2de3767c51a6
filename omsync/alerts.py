"""Alerts: a webhook notification block and two Prefect automations, so that a failed or crashed run,
or a run that finished with problems (the event flows/runs.py emits), posts a short JSON message.
The webhook's URL is kept as a block secret (it is often the webhook's key); messages carry counts only."""

from __future__ import annotations

from omsync.flows.runs import PROBLEMS_EVENT

BLOCK_NAME = "omsync-alerts"
FAILED = "omsync: a run failed"
WITH_PROBLEMS = "omsync: a run has problems"


def install(url: str) -> list[str]:
    """Create or replace the webhook block and the automations on the current Prefect server; returns their names."""
    from prefect.automations import Automation
    from prefect.blocks.notifications import CustomWebhookNotificationBlock
    from prefect.events.actions import SendNotification
    from prefect.events.schemas.automations import EventTrigger, Posture

    block = CustomWebhookNotificationBlock(
        name="omsync", url="{{webhook}}", method="POST", secrets={"webhook": url},
        json_data={"source": "omsync", "subject": "{{subject}}", "text": "{{body}}"})
    block_id = block.save(BLOCK_NAME, overwrite=True)
    failed = EventTrigger(expect={"prefect.flow-run.Failed", "prefect.flow-run.Crashed"},
                          match={"prefect.resource.id": "prefect.flow-run.*"}, posture=Posture.Reactive, threshold=1)
    problems = EventTrigger(expect={PROBLEMS_EVENT}, match={"prefect.resource.id": "omsync.run.*"}, posture=Posture.Reactive, threshold=1)
    automations = [
        (FAILED, failed, SendNotification(
            block_document_id=block_id, subject="omsync: {{ flow.name }} run {{ flow_run.state.name }}",
            body="{{ flow.name }} run {{ flow_run.name }} ended {{ flow_run.state.name }}: {{ flow_run.state.message }}")),
        (WITH_PROBLEMS, problems, SendNotification(
            block_document_id=block_id, subject="omsync: {{ event.resource['prefect.resource.name'] }} has problems",
            body="{{ event.resource['prefect.resource.name'] }} run finished with {{ event.payload.problems }} problems "
                 "({{ event.payload.kinds }}): `omsync status`, or the run's problems table in the UI")),
    ]
    for name, trigger, action in automations:
        _delete(name)
        Automation(name=name, description="created by omsync serve --notify", trigger=trigger, actions=[action]).create()
    return [name for name, _, _ in automations]


def _delete(name: str) -> None:
    """Remove every automation of that name (an earlier serve's), so that each alert is sent once."""
    from prefect.automations import Automation

    while True:
        try:
            Automation.read(name=name).delete()
        except ValueError:
            return
