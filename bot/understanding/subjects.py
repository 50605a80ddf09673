"""Whose account a request is about: the requester's own, or someone else's.

"install zoom for bob", "add dan to the finance group", "my colleague alice is locked out",
"reset her password": each is about a third party, and the desk must not act on the
requester's own account instead. A person the org knows becomes their username; a person
the message clearly points at but the org does not know becomes ``unknown:<as typed>``
("unknown:dan", "unknown:my colleague", "unknown:her"), so the desk refuses or asks rather
than acts.

The reading is shallow on purpose: find the references to people (a name from the
catalogue, "my colleague" or "a new hire", a word that can only be a name, a pronoun) and
look at the words around each one ("for _", "add _ to", "_'s password", "_ needs",
"on behalf of _"). Ordinary self-requests ("for my laptop", "for 2 weeks", "for zoom
calls", "add me to _") have none of these shapes around a person.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal

from bot.intents import UNKNOWN_PERSON, IntentSpec
from bot.models import Person
from bot.understanding.lexicon import (
    ACCOUNT_THINGS,
    AMBIGUOUS_APP_WORDS,
    COMMON_WORD_NAMES,
    EDITION_WORDS,
    GROUP_GENERIC,
    KNOWN_APPS,
    NOT_PERSON_WORDS,
    PERSON_ACTIONS,
    RELATIONS,
    RELATIONS_WEAK,
    SIGNAL_APPS,
    STOPWORDS,
    SYSTEMS,
    VENDOR_WORDS,
    word_set,
)
from bot.understanding.mentions import Mention
from bot.understanding.text import stem, tokens
from bot.understanding.training import ordinary_words

__all__ = ["third_party"]

RefKind = Literal["known", "unknown", "relation", "pronoun", "self"]


@dataclass(frozen=True)
class _Ref:
    """One reference to a person: its value for the slot and its span in the text."""

    kind: RefKind
    value: str
    start: int
    end: int
    strong: bool = False  # named after a relation that is never the writer ("my colleague")
    related: bool = False  # starts with a relation ("my manager carol", "a new hire")
    word: str = ""  # a pronoun, lowercased
    capitalised: bool = False  # a capitalised name that does not start a sentence
    at_clause_start: bool = False

    @property
    def named(self) -> bool:
        """A name, not a description ("my colleague") or a bare pronoun."""
        return self.kind in {"known", "unknown"}


# --- words ------------------------------------------------------------------------------

_PRONOUNS_OBJECT = word_set("him her them")
_PRONOUNS_SUBJECT = word_set("he she they")
_PRONOUNS_POSSESSIVE = word_set("his her their")
_PRONOUNS = _PRONOUNS_OBJECT | _PRONOUNS_SUBJECT | _PRONOUNS_POSSESSIVE
_PLURAL_PRONOUNS = word_set("they them their")

_DETERMINERS = word_set("my our a an the this another")
_RELATION_ADJECTIVES = word_set(
    "following new old former fellow senior junior direct line team work staff best close"
)
# relation nouns that need a word in front ("new hire", "direct report", "team member")
_RELATION_NEEDS = {
    "hire": word_set("new"),
    "starter": word_set("new"),
    "joiner": word_set("new"),
    "report": word_set("direct"),
    "member": word_set("team staff"),
    "people": word_set("following"),
    "person": word_set("following"),
}
_STRONG_RELATIONS = frozenset(stem(w) for w in RELATIONS | {"people", "person"})
_WEAK_RELATIONS = frozenset(stem(w) for w in RELATIONS_WEAK)

_NOT_NAMES = frozenset(
    stem(w)
    for w in (
        STOPWORDS
        | NOT_PERSON_WORDS
        | KNOWN_APPS
        | SYSTEMS
        | VENDOR_WORDS
        | EDITION_WORDS
        | AMBIGUOUS_APP_WORDS
        | SIGNAL_APPS
        | GROUP_GENERIC
        | RELATIONS
        | RELATIONS_WEAK
        | _PRONOUNS
        | word_set("me myself mine i we us")
    )
)
_MONTHS = word_set("january february march april may june july august september october")
_NOT_NAME_SUFFIXES = (
    "ing", "tion", "sion", "ment", "ness", "ity", "ics", "ers", "ies", "ware", "ed",
)  # fmt: skip
_NAME = re.compile(r"[A-Za-z][a-z]+|[A-Z][a-z]*[A-Z][a-z]+")  # "dan", "Dan", "McKay"

# after a name, words that end the name's phrase: "for dan please", "for dan who started"
_FOLLOW_OK = STOPWORDS | word_set(
    """please pls plz thanks thx ty cheers asap too today tomorrow tonight now urgently again
    also who whose since because starting as well when if before after next this by from
    ok okay 2 4"""
)
_ACCESS_WORDS = word_set(
    """access admin rights permission permissions edit read write membership licence license
    account login added set setup sorted unlocked reset enrolled registered onto into log
    sign signed"""
)
_ACCOUNT_THINGS = frozenset(stem(w) for w in ACCOUNT_THINGS | KNOWN_APPS | SYSTEMS)
_THING_ADJECTIVES = word_set("new old work own company personal main spare windows")

# Verbs whose object right after them is a person ("add dan to", "give dan access").
_ACCOUNT_VERBS = word_set(
    """add give grant unlock remove revoke enable disable deactivate reactivate suspend
    offboard onboard provision deprovision invite enrol enroll let allow help get assign
    setup unblock register take kick"""
)
# Nouns after which "for <word>" names a product, not a person ("a licence for X").
_PRODUCT_NOUNS = word_set(
    """licence licences license licenses seat seats subscription account accounts login
    password access key plugin extension update version installer credentials pin token
    certificate permission permissions rights app trial copy edition client workspace
    instance integration settings profile"""
)
_FIRST_PERSON = re.compile(r"\b(?:i|i'm|im|i've|i'd|me|my|mine|myself|we|we're|our|us)\b", re.I)


def _stemmed(word: str) -> str:
    return stem(word.strip("'"))


def _name_like(word: str, *, capitalised_ok: bool = True) -> bool:
    """A word that can only be someone's name here: not a function word, not the everyday
    vocabulary of help-desk requests, not an app, a team, a time or a thing."""
    if not _NAME.fullmatch(word):
        return False
    lowered = word.lower()
    capital = word[:1].isupper()
    if capital and capitalised_ok and lowered in COMMON_WORD_NAMES and lowered not in _MONTHS:
        return True  # "for Will", "my colleague Grace"
    if len(lowered) < (2 if capital else 3):
        return False
    key = _stemmed(lowered)
    if key in _NOT_NAMES or lowered in _NOT_NAMES or key in ordinary_words():
        return False
    if lowered in ordinary_words():
        return False
    return capital or not lowered.endswith(_NOT_NAME_SUFFIXES)


# --- finding the references ---------------------------------------------------------------


_SENTENCE_END = re.compile(r"(?:^|[.!?:\n]\s*)$")
_CLAUSE_BREAK = re.compile(r"[.,;!?:()\n]|\s-\s")
_CLAUSE_FILLERS = word_set(
    """hi hey hello morning ok okay so and but also btw fyi um well yes no then because since
    as now hmm please quick question urgent sorry ps oh i think believe guess apparently
    heard that also just"""
)


def _clause_start(before: str) -> bool:
    clause = _CLAUSE_BREAK.split(before)[-1]
    return all(word.lower() in _CLAUSE_FILLERS for word, _, _ in tokens(clause))


def _references(text: str, mentions: Sequence[Mention], requester: Person | None) -> list[_Ref]:
    spans = tokens(text)
    owner: dict[int, Mention] = {}
    for index, (_, start, end) in enumerate(spans):
        for mention in mentions:
            if mention.start <= start and end <= mention.end:
                owner[index] = mention
    me = _requester_words(requester)
    refs: list[_Ref] = []
    index = 0
    while index < len(spans):
        relation = _relation(spans, owner, index)
        if relation is not None:
            after_relation, strong = relation
            named = _named(text, spans, owner, after_relation, requester, me)
            rel_start = spans[index][1]
            if named is None:
                phrase = text[rel_start : spans[after_relation - 1][2]]
                refs.append(
                    _Ref(
                        "relation",
                        UNKNOWN_PERSON + phrase,
                        rel_start,
                        spans[after_relation - 1][2],
                        related=True,
                        at_clause_start=_clause_start(text[:rel_start]),
                    )
                )
                index = after_relation
                continue
            ref, index = named
            if ref.kind == "self":
                refs.append(ref)  # "my colleague" is never the writer; still, not a third party
            else:
                refs.append(
                    _Ref(
                        ref.kind,
                        ref.value,
                        rel_start,
                        ref.end,
                        strong=strong,
                        related=True,
                        capitalised=ref.capitalised,
                        at_clause_start=_clause_start(text[:rel_start]),
                    )
                )
            continue
        word = spans[index][0]
        if index not in owner and word.lower() in _PRONOUNS:
            start, end = spans[index][1], spans[index][2]
            refs.append(_Ref("pronoun", "", start, end, word=word.lower()))
            index += 1
            continue
        named = _named(text, spans, owner, index, requester, me)
        if named is None:
            index += 1
            continue
        ref, index = named
        refs.append(ref)
    return refs


def _requester_words(requester: Person | None) -> frozenset[str]:
    if requester is None:
        return frozenset()
    words = {w.lower() for w, _, _ in tokens(requester.name)}
    words |= {w.lower() for w, _, _ in tokens(requester.username)}
    return frozenset(words - STOPWORDS)


def _relation(
    spans: Sequence[tuple[str, int, int]], owner: dict[int, Mention], index: int
) -> tuple[int, bool] | None:
    """Where a relation phrase starting at `index` ends ("my new colleague", "one of our
    interns", "a new hire"), and whether the relation is never the writer (strong)."""
    words = [w.lower() for w, _, _ in spans]
    i = index + 2 if words[index : index + 2] == ["one", "of"] else index
    determiner = words[i] if i < len(words) and words[i] in _DETERMINERS else ""
    if determiner:
        i += 1
    adjectives: list[str] = []
    while i < len(words) and words[i] in _RELATION_ADJECTIVES and i - index < 5:
        adjectives.append(words[i])
        i += 1
    if i >= len(words) or not (determiner or "new" in adjectives):
        return None
    described = determiner in {"my", "our"} or bool(adjectives)
    if i in owner and not (owner[i].kind == "group" and described):
        return None  # "the managers group"; but "my manager", "the following people" are people
    noun = stem(words[i])
    if noun in _STRONG_RELATIONS:
        needs = _RELATION_NEEDS.get(noun)
        if needs is not None and not needs & set(adjectives):
            return None
        return i + 1, True
    if noun == "user" and determiner in {"my", "our"} and index == i - 1:
        return None  # "my user account", "my user is blocked": the writer's own login
    if noun in _WEAK_RELATIONS:
        return i + 1, False
    return None


def _named(
    text: str,
    spans: Sequence[tuple[str, int, int]],
    owner: dict[int, Mention],
    index: int,
    requester: Person | None,
    me: frozenset[str],
) -> tuple[_Ref, int] | None:
    """The person named at token `index`, if any (a "self" reference when it is the
    requester), and the index after the name. None when no name starts there."""
    if index >= len(spans):
        return None
    mention = owner.get(index)
    word, start, end = spans[index]
    before = text[:start]
    capitalised = word[:1].isupper() and not _SENTENCE_END.search(before)
    clause_start = _clause_start(before)
    if mention is not None:
        if mention.kind != "person" or spans[index][1] != mention.start:
            return None
        after = index
        while after < len(spans) and spans[after][2] <= mention.end:
            after += 1
        ids = mention.ids
        if mention.requester or (requester is not None and requester.username in ids):
            return _Ref("self", "", mention.start, mention.end), after
        value = ids[0] if len(ids) == 1 else UNKNOWN_PERSON + text[mention.start : mention.end]
        kind: RefKind = "known" if len(ids) == 1 else "unknown"
        ref = _Ref(
            kind,
            value,
            mention.start,
            mention.end,
            capitalised=capitalised,
            at_clause_start=clause_start,
        )
        return ref, after
    if word.lower() in me and _NAME.fullmatch(word):
        return _Ref("self", "", start, end), index + 1
    if not _name_like(word):
        return None
    last = index
    following = index + 1
    if (
        following < len(spans)
        and following not in owner
        and text[end : spans[following][1]] == " "
        and word[:1].isupper() == spans[following][0][:1].isupper()
        and _name_like(spans[following][0], capitalised_ok=False)
    ):
        last = following  # "Dan Smith", "dan smith"
    end = spans[last][2]
    ref = _Ref(
        "unknown",
        UNKNOWN_PERSON + text[start:end],
        start,
        end,
        capitalised=capitalised,
        at_clause_start=clause_start,
    )
    return ref, last + 1


# --- is the request about them ------------------------------------------------------------

_NOT_TARGET_BEFORE = word_set(
    """manager boss by cc ask asked asking with from thanks thank regards cheers best
    sincerely than via about emailed called"""
)
_NOT_TARGET_AFTER = re.compile(
    r"^\W*(?:s\s+)?(?:approved|approves|said|says|asked|okayed|agreed|told|suggested|recommended|"
    r"has approved|is my manager|can approve|will approve|should approve|needs to approve|"
    r"signed off|is the owner|owns|mentioned|sent|shared|gave me|here\b|and (?:i|me|myself)\b|"
    r"&\s*(?:i|me)\b)",
    re.IGNORECASE,
)
_SELF_BEFORE = re.compile(
    r"(?:\bi'?m|\bi am|\bam|\bas|\bbeing|\bwe'?re|\b(?:me|i|myself)\s+(?:and|&))\s*,?\s*$",
    re.IGNORECASE,
)
_SELF_NAMED_BEFORE = re.compile(
    r"(?:\bthis is|\bit'?s|\bmy name is|\bname'?s|\bsigned)\s*,?\s*$", re.IGNORECASE
)
_MIRROR_BEFORE = re.compile(r"\b(?:same|like|as)\s+(?:\w+\s+){0,2}(?:as\s+)?$", re.IGNORECASE)
_LEAVING_AFTER = re.compile(
    r"^(?:\s+|'s\s+)(?:is\s+|was\s+|has\s+|will\s+be\s+)?(?:leaving|left|quit|resigned|"
    r"retir\w*|joining|joins|starts|starting|started|finish\w*|been (?:let go|terminated|"
    r"dismissed)|no longer)\b",
    re.IGNORECASE,
)
_PREDICATE = re.compile(
    r"^(?:\s*,)?\s*(?:'s\s+)?(?:(?:also|really|now|still|urgently|just|too|then|apparently|"
    r"currently|will|would|'ll|'d|does|did)\s+)*(?:"
    r"(?:needs?|wants?|requires?|would like|'d like|wishes)\b(?!\s+(?:me|my|us|our|you|to "
    r"(?:approve|sign|check|know|talk|speak|see|ask|confirm))\b)(?!\s+(?:an?\s+|to be\s+)?"
    r"(?:update|updating|upgrade|upgrading|restart|reboot|fix|fixing|repair|replacing|"
    r"replacement|reinstall|charging|toner|paper|ink|cleaning|servic\w+|patch\w*)\b)"
    r"|(?:is|was|has been|got|gets|keeps getting|been|'s)\s+(?:\w+\s+)?(?:locked|blocked|"
    r"unable|new|starting|joining)\b"
    r"|locked out\b"
    r"|(?:can'?t|cannot|can not|couldn'?t|could not|isn'?t able to|is not able to|"
    r"is unable to|unable to|won'?t be able to)\s+(?:\w+\s+)?(?:log|login|sign|signin|get "
    r"(?:in|into|on|access)|access|connect|open|use|see|remember|reset|authenticate|"
    r"install|print|receive|send)\b"
    r"|(?:lost|forgot|has forgotten|forgotten|misplaced)\b"
    r"|(?:doesn'?t|does not|don'?t)\s+have\b"
    r"|has no\s+(?:access|account|login|laptop|password)\b"
    r")",
    re.IGNORECASE,
)
_FOR_BEFORE = re.compile(r"\b(?:for|4|on behalf of|behalf of)\s*$", re.IGNORECASE)
# "grant access to the finance folder to dan": the receiving end of a grant
_GIVE_TO_BEFORE = re.compile(
    r"\b(?:give|grant|provide|assign)\b(?:(?!\b(?:me|my|myself|us|our)\b)[^.,;!?])*\bto\s*$",
    re.IGNORECASE,
)
# "Emma in accounts needs excel": a short "from/in/at" phrase between a name and its verb
_WHERE_AFTER = re.compile(r"^\s+(?:from|in|at|on|of)\s+(?:the\s+)?[\w-]+(?:\s+team)?", re.I)
_NOT_FOR_BEFORE = re.compile(
    r"\b(?:wait\w*|ask\w*|look\w*|search\w*|thanks?|thank you|responsible|vouch\w*|"
    r"approval|approved|sign-?off|request(?:ed)?\s+by|hop\w*|cover\w*|fill\w* in|"
    r"speak\w*|stand\w* in|same|as|what'?s|what is)\s+for\s*$",
    re.IGNORECASE,
)
_APPROVAL_AFTER = re.compile(
    r"^\W*(?:'s\s+)?(?:approval|sign-?off|ok\b|okay\b|to (?:approve|sign|okay|review|check))",
    re.IGNORECASE,
)
_OWNER_BEFORE = re.compile(
    r"\b(?:to|into|in|with|from|like|as|than|via|about|for|of|at|see|view|open|read|check)\s*$",
    re.IGNORECASE,
)
_DEVICE_AFTER = re.compile(
    r"^\s*(?:to|on|onto|from|for|in|off)\s+(?:my|our|the|this|a|his|her|their)?\s*"
    r"(?:new\s+|work\s+|old\s+)?(?:laptop|computer|pc|mac|macbook|machine|desktop|phone|"
    r"iphone|ipad|tablet|device|browser|workstation|toolbar|dock|start menu|taskbar)\b",
    re.IGNORECASE,
)
_SELF_AFTER = re.compile(r"^\s*(?:for|to)\s+(?:me|myself|us)\b", re.IGNORECASE)
_VERB_AFTER = {
    "get": re.compile(
        r"^\s*(?:access|added|set|setup|onto|into|on|in|a|an|admin|permissions?|rights|"
        r"unlocked|reset|sorted|enrolled|registered|back)\b",
        re.IGNORECASE,
    ),
    "let": re.compile(r"^\s*(?:in|into|access|join|use|have|see|edit|view|onto|log|sign)\b", re.I),
    "give": re.compile(r"^(?!\s*an?\s+(?:try|go|shot|chance|call|ring|shout|heads|hand)\b)", re.I),
    "help": re.compile(r"^(?!\s*(?:out|me|us)\b)", re.I),
    "take": re.compile(r"^\s*(?:off|out)\b", re.I),
    "kick": re.compile(r"^\s*(?:off|out)\b", re.I),
}
_WORDS_BEFORE = re.compile(r"([\w'-]+)\W*$")
_OF_BEFORE = re.compile(r"\b(\w+)\s+of\s*$", re.IGNORECASE)
_NOUN_FOR_BEFORE = re.compile(r"\b(\w+)\s+for\s*$", re.IGNORECASE)


def third_party(
    intent: IntentSpec, text: str, mentions: Sequence[Mention], requester: Person | None
) -> str | None:
    """The person the request is about, when the text says it is not the requester: a
    username, or ``unknown:<as typed>`` for someone the org's directory does not know."""
    refs = _references(text, mentions, requester)
    # a joiner is named, or asked about: "a new hire" is not a name to create an account for
    named_only = intent.new_person
    for position, ref in enumerate(refs):
        if ref.kind == "self":
            continue
        if ref.kind == "pronoun":
            if _pronoun_qualifies(ref, text):
                found = _antecedent(refs[:position], ref, refs[position + 1 :], text)
                if found is not None and (found.named or not named_only):
                    return found.value
            continue
        if (ref.named or not named_only) and _qualifies(ref, text, intent):
            return ref.value
    return None


def _qualifies(ref: _Ref, text: str, intent: IntentSpec) -> bool:
    before, after = text[: ref.start], text[ref.end :]
    if _excluded(before, after, named=not ref.related):
        return False
    known = ref.kind == "known"
    if known and intent.about_others:
        return True
    if (
        ref.kind == "unknown"
        and intent.about_others
        and ref.capitalised
        and not _APPROVAL_AFTER.match(after)
    ):
        return True
    if _LEAVING_AFTER.match(after) and (known or ref.at_clause_start):
        return True
    if after.startswith("'s"):
        # a possessive decides on its own: "dan's password" yes, "for dan's review" no
        return _possessive_qualifies(before, after[2:])
    if ref.strong and ref.kind != "relation":
        return True  # "my colleague dan", "our new hire Sam"
    if _for_qualifies(ref, before, after) or _action_qualifies(ref, before, after):
        return True
    if _has_predicate(after) and (known or ref.at_clause_start):
        return True
    if _GIVE_TO_BEFORE.search(before) and (known or _follows_name(after)):
        return True
    thing = _OF_BEFORE.search(before)  # "the password of dan"
    return (
        thing is not None
        and stem(thing.group(1)) in _ACCOUNT_THINGS
        and (known or _follows_name(after))
    )


def _has_predicate(after: str) -> bool:
    """ "dan needs tableau", "dan in finance can't log in", "he is locked out"."""
    if _PREDICATE.match(after):
        return True
    where = _WHERE_AFTER.match(after)
    return where is not None and bool(_PREDICATE.match(after[where.end() :]))


def _excluded(before: str, after: str, *, named: bool = True) -> bool:
    """Not the subject: an approver ("carol approved"), a model ("same access as bob"), the
    writer ("this is dan", "I'm a contractor"), a sign-off ("thanks, dan")."""
    previous = _WORDS_BEFORE.search(before)
    return (
        (previous is not None and previous.group(1).lower() in _NOT_TARGET_BEFORE)
        or bool(_NOT_TARGET_AFTER.match(after))
        or bool(_MIRROR_BEFORE.search(before))
        or bool(_SELF_BEFORE.search(before))
        or (named and bool(_SELF_NAMED_BEFORE.search(before)))
    )


def _possessive_qualifies(before: str, rest: str) -> bool:
    """ "dan's password", "on dan's laptop": yes; "add me to dan's channel": no (that is
    access to something of dan's, asked for oneself)."""
    if _APPROVAL_AFTER.match(rest):
        return False
    next_words = [w.lower() for w, _, _ in tokens(rest)[:3]]
    if next_words[:1] == ["behalf"]:
        return True
    things = [w for w in next_words if w not in _THING_ADJECTIVES][:1]
    about_their_account = bool(things) and stem(things[0]) in _ACCOUNT_THINGS
    if _OWNER_BEFORE.search(before) and not about_their_account:
        return False
    # "access to dan's mailbox" is access for the writer
    return not re.search(r"\b(?:to|into|with|from|see|view|open|read|check)\s*$", before, re.I)


def _follows_name(after: str) -> bool:
    """Whether the words after a name end its phrase ("for dan please") rather than make
    it a modifier ("for Contoso calls")."""
    if not after.strip() or after.startswith("'s") or re.match(r"^\s*[^\w\s]", after):
        return True
    following = tokens(after)[:1]
    return bool(following) and following[0][0].lower() in _FOLLOW_OK | _ACCESS_WORDS


def _for_qualifies(ref: _Ref, before: str, after: str) -> bool:
    if not _FOR_BEFORE.search(before) or _NOT_FOR_BEFORE.search(before):
        return False
    if _APPROVAL_AFTER.match(after):
        return False
    if not _follows_name(after):
        return False
    if ref.kind == "known":
        return True
    lowercase = ref.kind == "unknown" and ref.value[len(UNKNOWN_PERSON) :].islower()
    if lowercase and re.search(r"\bI\b", before + after):
        return False  # who writes "I" would write "Dan": a lowercase word is not a name
    if ref.kind == "unknown":
        noun = _NOUN_FOR_BEFORE.search(before)
        clause = _CLAUSE_BREAK.split(before)[-1]
        if noun and noun.group(1).lower() in _PRODUCT_NOUNS and _FIRST_PERSON.search(clause):
            return False  # "I need a licence for Procore": a product, not a person
    return True


def _action_qualifies(ref: _Ref, before: str, after: str) -> bool:
    clause = _CLAUSE_BREAK.split(before)[-1]
    words = [w.lower() for w, _, _ in tokens(clause)]
    if ref.kind == "known":
        # "reset the password of bob", "add bob": an action verb shortly before the name,
        # with no "me"/"my" in between ("add me to the group bob owns" is not about bob)
        for back, word in enumerate(reversed(words[-5:])):
            if word in PERSON_ACTIONS:
                between = words[len(words) - back :]
                if not set(between) & {"me", "my", "myself", "i", "us", "our", "mine"}:
                    return True
                break
    if not words:
        return False
    verb = words[-1]
    if verb == "up" and len(words) > 1 and words[-2] in {"set", "sign"}:
        verb = "setup"  # "set up dan with", "sign up dan"
    elif verb in {"set", "sign"} and re.match(r"^\s*up\b", after, re.I):
        verb = "setup"  # "set dan up", "sign her up"
    if verb not in _ACCOUNT_VERBS or _DEVICE_AFTER.match(after) or _SELF_AFTER.match(after):
        return False
    if re.match(r"^\s*know\b", after, re.I):
        return False  # "let dan know"
    if verb == "help" and {"i", "we"} & set(words[-4:-1]):
        return False  # "so I can help carol": the writer helps
    pattern = _VERB_AFTER.get(verb)
    if pattern is not None and not pattern.match(after):
        return False
    return ref.kind != "unknown" or _follows_name(after)


def _pronoun_qualifies(ref: _Ref, text: str) -> bool:
    before, after = text[: ref.start], text[ref.end :]
    word = ref.word
    if word in _PRONOUNS_POSSESSIVE:
        next_words = [w.lower() for w, _, _ in tokens(after)[:3]]
        things = [w for w in next_words if w not in _THING_ADJECTIVES][:1]
        if things and stem(things[0]) in _ACCOUNT_THINGS:
            return not _OWNER_BEFORE.search(before) or bool(
                re.search(r"\b(?:on|for|of)\s*$", before, re.I)
            )
    if word in _PRONOUNS_OBJECT:
        if _FOR_BEFORE.search(before) and not _NOT_FOR_BEFORE.search(before):
            return not _APPROVAL_AFTER.match(after)
        if _action_qualifies(ref, before, after):
            return True
    if word in _PRONOUNS_SUBJECT:
        return _has_predicate(after)
    return False


def _antecedent(
    earlier: Sequence[_Ref], pronoun: _Ref, later: Sequence[_Ref], text: str
) -> _Ref | None:
    """Who "him", "her" or "them" points at: the nearest person named before it, else a
    person named after it ("he can't log in, it's my colleague Dan")."""
    people = [r for r in earlier if r.kind in {"known", "relation", "self"} or r.strong]
    if people:
        return people[-1] if people[-1].kind != "self" else None  # "bob ... his laptop"
    names = [r for r in earlier if r.kind == "unknown" and (r.capitalised or r.at_clause_start)]
    if names:
        return names[-1]
    for ref in later:
        if (ref.kind == "known" or ref.strong) and not _excluded(
            text[: ref.start], text[ref.end :], named=not ref.related
        ):
            return ref
    if pronoun.word in _PLURAL_PRONOUNS:
        return None  # "them" with no one named before is more often a thing
    return replace(pronoun, value=UNKNOWN_PERSON + pronoun.word)
