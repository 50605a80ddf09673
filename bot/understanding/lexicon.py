"""General vocabulary the slot filler leans on: English function words, the words people put
around a group's name, well-known software and systems. Nothing here belongs to one org; an
org's own names always come from its catalogue."""

from __future__ import annotations

__all__ = [
    "AMBIGUOUS_APP_WORDS",
    "COMMON_WORD_NAMES",
    "EDITION_WORDS",
    "GROUP_CONTEXT",
    "GROUP_GENERIC",
    "KNOWN_APPS",
    "NICKNAMES",
    "PERSON_ACTIONS",
    "SIGNAL_APPS",
    "STOPWORDS",
    "SYSTEMS",
    "VENDOR_WORDS",
    "word_set",
]


def word_set(text: str) -> frozenset[str]:
    """The whitespace-separated words of `text`, for word lists written as prose blocks."""
    return frozenset(text.split())


STOPWORDS = word_set(
    """a about above after again against all am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for from
    further had has have having he her here hers herself him himself his how i if in into is it
    its itself just me more most my myself no nor not now of off on once only or other our ours
    out over own same she should so some such than that the their theirs them then there these
    they this those through to too under until up very was we were what when where which while
    who whom why will with would you your yours yourself please pls thanks thank hi hello hey
    team guys get got need needs want wants like also still new one two access add remove give
    us help im i'm dont cant won't"""
)

# Words that say "this is a group", around or inside a group's name.
GROUP_CONTEXT = word_set(
    """group groups team list lists dl dls distribution mailing channel folder folders drive
    drives share shares sharepoint site space spaces department dept role"""
)
GROUP_GENERIC = GROUP_CONTEXT | word_set(
    """access rights right permission permissions membership read write readonly only ro rw
    members member"""
)

# First or last names that are also ordinary words: matched as a person only when written
# with a capital letter (or as a possessive).
COMMON_WORD_NAMES = word_set(
    """will grace frank mark bill may june april august rose pat sue joy hope faith art guy max
    jack rob sandy chase dawn iris lily ruby summer amber don ray gene earl carol page hunter
    miles price rich dean king young white black brown green long hall wood stone rock field
    ward cook baker best hill lane bell street"""
)

# Verbs that make the next word a person the request is about ("reset frank's", "add frank").
PERSON_ACTIONS = word_set(
    """reset unlock offboard onboard disable deactivate remove add give grant create enable
    revoke delete terminate lock wipe change setup set provision deprovision kill close
    suspend reactivate"""
)

# Vendor words and edition words that people drop when naming an app.
VENDOR_WORDS = word_set(
    """microsoft ms google adobe apple mozilla atlassian jetbrains oracle sap ibm amazon aws
    autodesk cisco vmware"""
)
EDITION_WORDS = word_set(
    """desktop client app application pro professional enterprise standard edition suite for
    mac windows linux studio"""
)

# Catalogue names that are also everyday words: matched only when capitalised or qualified.
AMBIGUOUS_APP_WORDS = word_set(
    """access word project teams office edge notes paint publisher photos mail calendar store
    files code go box keep sheets docs slides forms drive"""
)

# Words in an app's name that are themselves the signal for an intent (mail, VPN, MFA):
# an app named with one is never hidden behind a mask.
SIGNAL_APPS = word_set(
    """outlook exchange thunderbird mail email gmail calendar anyconnect globalprotect
    forticlient openvpn wireguard zscaler pulse vpn wifi network papercut printer printers
    print printing scanner authenticator mfa verify duo password passwords antivirus"""
)

# Common nicknames of well-known products, keyed by the product's usual name.
NICKNAMES: dict[str, tuple[str, ...]] = {
    "visual studio code": ("vs code", "vscode", "vsc"),
    "microsoft teams": ("ms teams", "msteams"),
    "microsoft excel": ("ms excel",),
    "microsoft word": ("ms word", "winword"),
    "microsoft powerpoint": ("ppt", "powerpoint"),
    "google chrome": ("chrome",),
    "adobe acrobat": ("acrobat", "adobe reader", "acrobat reader"),
    "adobe photoshop": ("photoshop",),
    "intellij idea": ("intellij",),
    "power bi": ("powerbi", "power bi desktop"),
    "one note": ("onenote",),
    "notepad++": ("notepad plus plus",),
}

# Software people ask for by name that an org may not carry: filled as `software_name`.
KNOWN_APPS = word_set(
    """photoshop illustrator indesign acrobat lightroom premiere after-effects figma sketch
    canva notion obsidian evernote spotify blender gimp inkscape audacity vlc winrar 7zip 7-zip
    notepad++ sublime pycharm intellij webstorm eclipse netbeans xcode android-studio postman
    docker kubectl terraform github-desktop sourcetree putty winscp filezilla virtualbox vmware
    parallels matlab rstudio stata spss tableau powerbi power-bi qlik alteryx anaconda jupyter
    nodejs jdk miro lucidchart visio smartsheet asana trello clickup jira confluence slack zoom
    webex skype discord telegram whatsapp dropbox onedrive firefox brave opera chrome safari
    1password lastpass bitwarden keepass grammarly loom camtasia snagit greenshot autocad revit
    solidworks sketchup fusion360 quickbooks xero bloomberg refinitiv wireshark nmap excel
    powerpoint onenote"""
)

# Named systems a message may be about when it is not the directory account itself.
SYSTEMS = word_set(
    """vpn erp sap salesforce crm workday servicenow jira confluence sharepoint onedrive outlook
    exchange teams slack zoom webex okta github gitlab bitbucket aws azure gcp netsuite oracle
    hubspot zendesk intranet wiki concur coupa successfactors bamboohr adp xero quickbooks
    tableau powerbi citrix rdp remote-desktop jenkins databricks snowflake docusign dropbox
    gmail"""
)
