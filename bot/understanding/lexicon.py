"""General vocabulary the slot filler leans on: English function words, the words people put
around a group's name, well-known software and systems. Nothing here belongs to one org; an
org's own names always come from its catalogue."""

from __future__ import annotations

__all__ = [
    "ACCOUNT_THINGS",
    "AMBIGUOUS_APP_WORDS",
    "COMMON_WORD_NAMES",
    "EDITION_WORDS",
    "GROUP_CONTEXT",
    "GROUP_GENERIC",
    "KNOWN_APPS",
    "NICKNAMES",
    "NOT_PERSON_WORDS",
    "PERSON_ACTIONS",
    "RELATIONS",
    "RELATIONS_WEAK",
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
    powerpoint onenote dragon endnote zotero mendeley nvivo arcgis qgis minitab mathematica
    labview teamviewer anydesk"""
)

# Named systems a message may be about when it is not the directory account itself.
SYSTEMS = word_set(
    """vpn erp sap salesforce crm workday servicenow jira confluence sharepoint onedrive outlook
    exchange teams slack zoom webex okta github gitlab bitbucket aws azure gcp netsuite oracle
    hubspot zendesk intranet wiki concur coupa successfactors bamboohr adp xero quickbooks
    tableau powerbi citrix rdp remote-desktop jenkins databricks snowflake docusign dropbox
    gmail"""
)

# --- whose request is it ----------------------------------------------------------------

# People a message may name by their relation to the writer ("my colleague", "a new hire").
# `RELATIONS` always point at someone else; `RELATIONS_WEAK` are also the usual approvers
# ("my manager said..."), so only the shape of the sentence makes them the subject.
RELATIONS = word_set(
    """colleague coworker workmate teammate intern assistant contractor consultant employee
    apprentice trainee secretary friend wife husband son daughter mum mom dad mother father
    sister brother hire starter joiner newbie report member mate"""
)
RELATIONS_WEAK = word_set(
    """manager boss supervisor lead director ceo cfo cto coo cio ciso vp user"""
)

# Words that are not a person's name, on top of the function words, the training vocabulary
# and the app and system names above: teams and functions, times, things people ask for.
NOT_PERSON_WORDS = word_set(
    """everyone everybody someone somebody anyone anybody nobody noone whoever each every
    either neither none another others other yourself ourselves themselves yourselves ya ye
    ur today tonight tomorrow yesterday now later soon asap eod eow cob tonite tmrw tmr
    morning afternoon evening night weekend week month year quarter q1 q2 q3 q4 h1 h2 fy
    monday tuesday wednesday thursday friday saturday sunday mon tue tues wed thu thur thurs
    fri sat sun january february march april may june july august september october november
    december feb mar apr jun jul aug sep sept oct nov dec christmas xmas easter holiday
    summer winter spring autumn fall ages hour day minute while ever good sure real instance
    example reference free nothing anything everything something whatever reason personal
    business internal external remote home office wfh onsite offsite travel sales legal
    accounting account accounts finance hr ops operation support helpdesk procurement
    purchasing logistics warehouse shipping inventory payroll benefit compliance audit
    research engineering dev development devops prod production staging qa uat test design
    ux ui product admin management leadership exec executive board infosec analytics bi
    recruitment recruiting hiring talent facilities reception partner vendor supplier student
    visitor guest staff people squad org organisation organization company firm corp inc ltd
    llc gmbh plc demo presentation meeting call conference webinar interview workshop course
    exam class lecture event launch release deploy deployment migration upgrade update report
    dashboard analysis forecast budget invoice expense timesheet tax contract document pdf
    spreadsheet slide deck note diagram wireframe prototype mockup drawing video photo image
    picture audio music podcast recording screenshot content writing translation chat
    messaging collaboration planning scheduling task sprint roadmap coding programming
    scripting automation python java javascript typescript sql html css golang rust ruby php
    kotlin swift scala windows linux ubuntu macos ios android chromebook surface dell lenovo
    hp thinkpad monitor headset keyboard mouse server cloud kubernetes k8s container database
    db api network networking internet editing modelling modeling simulation cad 3d rendering
    animation seo ads social media again instead cheers regards best sincerely hiya yo ty
    thx cc fyi btw np ok okay yes yeah yep nope lol sorry oops hmm um uh ah oh wow great
    cool nice awesome kindly whole entire lot lots bit kind sort type way purpose seat
    subscription plan license licence key token certificate cert plugin extension addon
    add-on installer trial version edition copy project client customer manager user
    airtable zapier calendly looker mural pipedrive intercom greenhouse rippling gusto
    expensify gong figjam procreate basecamp wrike coda retool vercel netlify heroku datadog
    splunk grafana sentry pagerduty opsgenie newrelic cloudflare twilio stripe shopify
    mailchimp marketo pardot mixpanel amplitude hotjar gitkraken dashlane teamviewer anydesk
    logmein parsec linkedin facebook instagram twitter youtube tiktok reddit google apple
    amazon netflix uber airbnb ikea visa mastercard paypal fun kicks curiosity science
    posterity convenience backup archive archiving safekeeping emergency emergencies
    contingency redundancy consistency pilot poc trial evaluation eval assessment review
    reviews approval approvals signoff onboarding offboarding handover coverage cover
    holidays vacation leave lunch dinner breakfast brunch snack snacks drinks party sake
    kafka redis postgres postgresql mysql mongo mongodb elastic elasticsearch spark hadoop
    airflow dbt bigquery redshift athena lambda vault consul ansible puppet chef helm argo
    istio nginx apache tomcat iis git gitlab jenkins bamboo circleci travis sonarqube nexus
    artifactory npm pip maven gradle conda venv node react angular vue django flask rails
    dotnet unity unreal godot figma delegate delegated shared full temporary temp readonly
    elevated"""
)

# What a request about a person's account is about ("dan's password", "on his laptop").
ACCOUNT_THINGS = word_set(
    """password passwords account accounts login logins signin credentials mfa authenticator
    laptop computer pc mac macbook machine desktop workstation device phone mobile iphone
    tablet ipad access permissions permission rights mailbox email inbox profile username
    vpn pin token yubikey badge licence license software apps app setup calendar drive
    onedrive files folder home"""
)
