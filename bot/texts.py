"""Every sentence the desk says to a person, in one place: friendly, brief, and free of
internal ids, DNs, tokens and stack traces. Change wording here, nowhere else."""

from __future__ import annotations

UNKNOWN_PERSON = (
    "Sorry, I can't find you in the company directory, so I can't help from this account. "
    "Please contact the IT service desk by phone or from your work account."
)
TRY_AGAIN = "Sorry, something went wrong on my side. Please try again in a minute."
BUSY = "I'm still working on your last message. Give me a moment and try again."

BUTTON_UNKNOWN = "That button no longer works. Nothing was changed."
BUTTON_NOT_YOURS = "That button isn't for you, so I haven't done anything."
BUTTON_USED = "That was already done. Nothing else was changed."
BUTTON_EXPIRED = "That request has expired, so nothing was changed."

ONLY_ADMINS = "Only IT admins can use /itdesk commands. Nothing was changed."
COMMAND_UNKNOWN = "I don't know that command. Try `/itdesk help`."


def escalated(ticket_id: str, queue_label: str) -> str:
    return (
        f"I've passed this to the {queue_label} team as ticket {ticket_id}. "
        "A technician will reply right here."
    )


def added_to_ticket(ticket_id: str) -> str:
    return (
        f"I've added that to ticket {ticket_id}. The technician who picks it up will see it "
        "and reply right here."
    )


def relayed_from_tech(tech_name: str, text: str) -> str:
    return f"{tech_name} (IT): {text}"


def relayed_from_requester(name: str, text: str) -> str:
    return f"{name}: {text}"


def claimed_for_requester(tech_name: str, ticket_id: str) -> str:
    return f"{tech_name} from IT has picked up ticket {ticket_id} and will reply here."


def already_claimed(by_name: str) -> str:
    return f"{by_name} already has this one. Nothing was changed."


CLAIM_NEEDS_ONCALL = "Only people on call can claim escalations."
NOT_YOUR_CASE = "Only the technician who claimed this case can do that."
CLAIM_FIRST = "Claim the case first, then your replies reach the requester."
CASE_CLOSED = "That case is closed, so your message wasn't passed on."


def resolved_for_requester(tech_name: str, ticket_id: str) -> str:
    return f"{tech_name} marked ticket {ticket_id} as resolved. Message me any time if it's back."


QUEUE_LABELS = {
    "access": "access",
    "accounts": "accounts",
    "software": "software",
    "hardware": "hardware",
    "network": "network",
    "security": "security",
    "other": "IT support",
}


# --- understanding and conversation ---------------------------------------------------------
WHAT_I_DO = (
    "I'm the IT desk. I can unlock your account, reset your password or MFA, get you into a "
    "group or shared drive, install approved software, help with VPN, Wi-Fi, e-mail and "
    "printing, lock a lost device, and pass anything else to the IT team."
)
NOT_IT = "That one's outside IT, so I can't help with it here. " + WHAT_I_DO
MENU = "I'm not sure what you need yet. Here's what I can do. Pick one, or tell me in a sentence:"
NO_OPEN_CASES = "You have no open requests with me."


def asked_group(options: list[str]) -> str:
    return (
        "Which group do you mean?"
        if options
        else ("Which group, list or shared drive do you need? Tell me its name.")
    )


ASK_DEVICE = "Which device should I use?"
ASK_DEVICE_LOST = "Which device is missing? I'll lock it straight away."
ASK_SOFTWARE = "Which application do you need?"
ASK_WHICH_SOFTWARE = "Which of these do you mean?"
ASK_PERSON = "Who is this about? Give me their username or full name."
ASK_JOINER_NAME = "What's the new joiner's full name?"


def ask_joiner_manager(name: str) -> str:
    return f"Who will be {name}'s manager? Give me their username or full name."


CHOICE_UNCLEAR = "Sorry, I didn't catch which one. Please pick one of the options."

# --- step-up --------------------------------------------------------------------------------
STEP_UP_PUSH = "To make sure it's you, I've sent a sign-in check to your {address}. Approve it there to continue."  # noqa: E501
STEP_UP_CODE = (
    "To make sure it's you, I've sent a 6-digit code to {address}. Type it here to continue."
)
STEP_UP_PASSED = "Thanks, that's confirmed."
STEP_UP_FAILED_RETRY = (
    "That didn't match, so nothing was changed. I've sent a new check; try once more."
)
STEP_UP_CODE_WRONG = "That code isn't right. Please check it and type it again."
STEP_UP_EXPIRED = "That check expired. I've sent a new one."
STEP_UP_LOCKED_OUT = (
    "That's three checks that didn't go through, so I've stopped here to keep your account "
    "safe. The IT team has your request and will contact you."
)
STEP_UP_NONE = "There's no sign-in check waiting for you right now."
STEP_UP_WAITING = "Your sign-in check is still waiting for an answer. Approve it on your phone."
STEP_UP_THROTTLED = "Too many sign-in checks in a short time. I've passed this to the IT team."
STEP_UP_NO_FACTOR = (
    "You have no sign-in method registered that I can use to check it's you, so I've passed "
    "this to the IT team."
)


# --- approvals ------------------------------------------------------------------------------
def approval_requested(approver_names: str) -> str:
    return f"This needs approval, so I've asked {approver_names}. I'll let you know as soon as they decide."  # noqa: E501


def approval_approved(name: str) -> str:
    return f"{name} approved your request."


def approval_denied(name: str) -> str:
    return (
        f"{name} declined your request, so nothing was changed. If you still need it, "
        "talk to them or reply here to reach the IT team."
    )


def approval_expired() -> str:
    return (
        "Your request wasn't approved within 3 days, so I've closed it and nothing was "
        "changed. Ask again any time."
    )


def approval_reminder(requester: str) -> str:
    return f"Reminder: {requester}'s request is still waiting for your decision."


NO_SELF_APPROVAL = "You can't approve your own request. Nothing was changed."
NO_APPROVER = "I couldn't find anyone who can approve this, so I've passed it to the IT team."


def already_decided(status: str, by: str | None) -> str:
    if status == "expired":
        return "That request has expired, so nothing was changed."
    who = f" by {by}" if by else ""
    return f"That request was already {status}{who}. Nothing else was changed."


# --- results --------------------------------------------------------------------------------
DONE_TITLE = "Done"


def undo_available(hours: int) -> str:
    return f"Undo is available for {hours} hour{'s' if hours != 1 else ''}."


# What a change notice says was requested, by skill ("a password reset ... was requested").
CHANGE_NOTICES = {
    "reset_password": "a password reset",
    "reset_mfa": "an MFA reset",
    "unlock_account": "an account unlock",
}


def change_notice(skill: str) -> str:
    return CHANGE_NOTICES.get(skill, f"a change ({skill.replace('_', ' ')})")


UNDO_DONE = "Undone. Everything is back as it was."
UNDO_EXPIRED = "Undo is no longer available for that one. Reply here and IT can help."
HELPED_THANKS = "Great, glad that's sorted."
FEEDBACK_ASK = "Did that solve it?"
REOPENED = "Sorry it didn't help. I've passed it to the IT team with what we tried."
RUNBOOK_INTRO = "This usually fixes it:"
ACTION_FAILED = (
    "I tried, but it didn't work on my side, so I've passed it to the IT team with the details."
)


def access_until(group_name: str, until: str) -> str:
    return f"You have access to {group_name} until {until}."


def access_ends_soon(group_name: str, until: str) -> str:
    return f"Heads-up: your access to {group_name} ends {until}. Ask me again if you still need it."


def access_ended(group_name: str) -> str:
    return f"Your time-limited access to {group_name} has ended, as planned."


# --- refusals, by policy reason -------------------------------------------------------------
REFUSALS = {
    "account_disabled": (
        "Your account is disabled, so I can't change anything for it. Please contact your "
        "manager or HR, who can ask IT to re-enable it."
    ),
    "ask_for_themselves": (
        "I can only do this for the person whose account it is: each employee has to ask me "
        "themselves. If it's urgent, an IT admin can help."
    ),
    "hr_only": (
        "Joiners and leavers are set up by HR (or the person's manager). Please ask your HR "
        "partner to request it."
    ),
    "not_allowed": "I'm not allowed to do that. An IT admin can help if it's needed.",
    "unknown_user": "I couldn't find that person in the directory.",
    "unknown_group": "I couldn't find that group.",
    "unknown_device": "I couldn't find that device.",
    "not_your_device": "That device isn't registered to you, so I can't change it.",
    "device_locked": "That device is locked, so I can't install anything on it right now.",
    "not_in_catalogue": "That application isn't in our catalogue.",
}


def refusal(reason: str | None) -> str:
    return REFUSALS.get(reason or "not_allowed", REFUSALS["not_allowed"])


# --- what a backend cannot do, by capability (bot.ports.CAPABILITIES) -------------------------
UNSUPPORTED = {
    "unlock": "I can't unlock accounts in our directory myself, so a technician will do it.",
    "lock": "I can't lock accounts in our directory myself, so a technician will do it.",
    "disable": "I can't disable accounts in our directory myself, so a technician will do it.",
    "enable": "I can't re-enable accounts in our directory myself, so a technician will do it.",
    "revoke_sessions": (
        "I can't sign accounts out everywhere from here, so a technician will do it straight away."
    ),
    "group_membership": (
        "I can't change that group's members myself (it's managed in another system), so a "
        "technician will do it."
    ),
    "reset_factors": (
        "I can't reset sign-in verification in our directory myself, so a technician will do it."
    ),
    "reset_link": "I can't send password reset links from here, so a technician will help you.",
    "enrolment_link": (
        "I can't send links to set up sign-in verification from here, so a technician will help."
    ),
    "create_person": "I can't create accounts in our directory myself, so a technician will do it.",
    "install": "I can't install software on that device myself, so a technician will do it.",
    "uninstall": "I can't remove software from that device myself, so a technician will do it.",
    "device_lock": "I can't lock that device remotely myself, so a technician will do it now.",
}


def unsupported(capability: str) -> str:
    """Why the desk hands an action to a human when the backend cannot do it at all."""
    return UNSUPPORTED.get(
        capability, "I can't do that one myself from here, so a technician will do it."
    )


def security_notice(requester: str, what: str) -> str:
    return f"Security notice: {what} ({requester})."
