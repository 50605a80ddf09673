"""Policy as code: `policies/*.cedar`, evaluated in process with cedarpy. The desk asks it
whether it may act on a request at every gate (`PolicyEngine.decide`, routes in
`requests`), and its own questions of who may do what (`PolicyEngine.ask`, in `questions`).
The Python here knows no rule of its own."""

from bot.policy import questions
from bot.policy.engine import PolicyEngine
from bot.policy.entities import Resource
from bot.policy.files import PolicyError, check, default_policy_dir, skill_actions
from bot.policy.questions import Answer, Question
from bot.policy.requests import DEFAULT_REFUSAL, Decision, PolicyRequest, Route

__all__ = [
    "DEFAULT_REFUSAL",
    "Answer",
    "Decision",
    "PolicyEngine",
    "PolicyError",
    "PolicyRequest",
    "Question",
    "Resource",
    "Route",
    "check",
    "default_policy_dir",
    "questions",
    "skill_actions",
]
