"""The SOC alert taxonomy, severities and the ordered classification rule table.

Categories follow the ENISA/TF-CSIRT Reference Security Incident Taxonomy (RSIT) top classes, which
the city SOC's monthly reports use under Chinese names (入侵嘗試, 資訊蒐集, ...). The rule table is
data: the first matching rule decides the category; the default table below is documented in
docs/soc.md and the SOC may replace it (rules stored in the database are passed in the same shape).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# code -> (Chinese label, English label), in report order.
CATEGORIES: dict[str, tuple[str, str]] = {
    "intrusion_attempts": ("入侵嘗試", "Intrusion attempt"),
    "information_gathering": ("資訊蒐集", "Information gathering"),
    "malicious_code": ("惡意程式", "Malicious code"),
    "intrusions": ("入侵", "Intrusion"),
    "availability": ("可用性", "Availability (DoS)"),
    "information_content_security": ("資訊內容安全", "Information content security"),
    "fraud": ("詐騙", "Fraud"),
    "abusive_content": ("濫用內容", "Abusive content"),
    "vulnerable": ("弱點", "Vulnerable"),
    "other": ("其他", "Other"),
    "test": ("測試", "Test"),
}
DEFAULT_CATEGORY = "other"

# code -> (Chinese label, English label), highest first.
SEVERITIES: dict[str, tuple[str, str]] = {
    "high": ("高", "High"),
    "medium": ("中", "Medium"),
    "low": ("低", "Low"),
}

# Rule match kinds. ``signature_prefix`` compares the start of the signature text (case-insensitive);
# ``signature_pattern`` is a regular expression searched in it; ``classtype`` compares the source
# category (Suricata classtype text or short name, CEF/LEEF ``cat``, ECS rule category) exactly,
# case-insensitively; ``group`` matches one of a Wazuh alert's ``rule.groups``.
MATCH_KINDS = ("signature_prefix", "signature_pattern", "classtype", "group")


@dataclass(frozen=True)
class Rule:
    """One row of the classification table: when ``kind`` matches ``pattern`` (and the alert comes
    from ``source``, when set), the alert is classified as ``category``."""

    name: str
    kind: str
    pattern: str
    category: str
    source: str = ""
    _regex: re.Pattern | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.kind not in MATCH_KINDS:
            raise ValueError(f"unknown rule kind {self.kind!r}")
        if self.category not in CATEGORIES:
            raise ValueError(f"unknown category {self.category!r}")
        if self.kind == "signature_pattern":
            object.__setattr__(self, "_regex", re.compile(self.pattern, re.IGNORECASE))


def _prefix(prefixes: str, category: str) -> list[Rule]:
    return [Rule(f"signature {p}", "signature_prefix", p, category) for p in prefixes.split(",")]


def _classtypes(names: str, category: str) -> list[Rule]:
    return [Rule(f"classtype {n}", "classtype", n, category) for n in names.split(",")]


def _groups(names: str, category: str) -> list[Rule]:
    return [Rule(f"wazuh group {n}", "group", n, category, source="wazuh") for n in names.split(",")]


# The documented default. Order matters: signature families first (reconnaissance signatures such as
# ``ET SCAN ...`` are information gathering whatever their classtype says), then classtypes (both
# the text Suricata writes in EVE and the short classification.config name), then Wazuh groups.
DEFAULT_RULES: tuple[Rule, ...] = tuple(
    _prefix("ET SCAN,GPL SCAN,ET INFO Possible Scan,ET POLICY Possible Nmap", "information_gathering")
    + _prefix("GPL ATTACK_RESPONSE,ET ATTACK_RESPONSE,ET WEB_SERVER WebShell,ET WEB_SERVER Webshell",
              "intrusions")
    + _prefix("ET MALWARE,ET TROJAN,ET MOBILE_MALWARE,ET CNC,ET WORM,ET CURRENT_EVENTS Malicious,"
              "GPL VIRUS,ET EXPLOIT_KIT", "malicious_code")
    + [Rule("signature wget/curl tool download", "signature_pattern",
            r"\b(wget|curl)\b.*\b(download|retriev)", "malicious_code")]
    + _prefix("ET DOS,GPL DOS,ET DDOS", "availability")
    + _prefix("ET PHISHING,ET COINMINER,ET CURRENT_EVENTS Phishing", "fraud")
    + _prefix("ET EXPLOIT,GPL EXPLOIT,ET WEB_SPECIFIC_APPS,ET WEB_SERVER,GPL WEB_SERVER,GPL WEB_ATTACKS,"
              "ET SQL,GPL SQL,ET SHELLCODE,GPL SHELLCODE,GPL NETBIOS,ET NETBIOS,GPL RPC", "intrusion_attempts")
    + _prefix("GPL CHAT,ET CHAT,GPL P2P,ET P2P,ET GAMES", "other")
    + _classtypes("Attempted Information Leak,Detection of a Network Scan,network-scan,attempted-recon,"
                  "Information Leak,successful-recon-limited,Large Scale Information Leak,"
                  "successful-recon-largescale,Decode of an RPC Query,rpc-portmap-decode",
                  "information_gathering")
    + _classtypes("Attempted Administrator Privilege Gain,attempted-admin,Attempted User Privilege Gain,"
                  "attempted-user,Web Application Attack,web-application-attack,Misc Attack,misc-attack,"
                  "Executable code was detected,shellcode-detect,Attempt to login by a default username and "
                  "password,default-login-attempt,Targeted Malicious Activity was Detected,targeted-activity,"
                  "An attempted login using a suspicious username was detected,suspicious-login",
                  "intrusion_attempts")
    + _classtypes("Successful Administrator Privilege Gain,successful-admin,Successful User Privilege Gain,"
                  "successful-user", "intrusions")
    + _classtypes("A Network Trojan was detected,trojan-activity,Malware Command and Control Activity Detected,"
                  "command-and-control,Domain Observed Used for C2 Detected,domain-c2,Exploit Kit Activity "
                  "Detected,exploit-kit", "malicious_code")
    + _classtypes("Attempted Denial of Service,attempted-dos,Denial of Service,denial-of-service,"
                  "Detection of a Denial of Service Attack,successful-dos", "availability")
    + _classtypes("Possible Social Engineering Attempted,social-engineering,Crypto Currency Mining Activity "
                  "Detected,coin-mining,Successful Credential Theft Detected,credential-theft", "fraud")
    + _classtypes("Inappropriate Content was Detected,inappropriate-content", "abusive_content")
    + _classtypes("Potential Corporate Privacy Violation,policy-violation,Sensitive Data was Transmitted Across "
                  "the Network,sdf", "information_content_security")
    + _groups("web_scan,recon,scan,nmap", "information_gathering")
    + _groups("virustotal,yara,rootcheck,malware,trojan,rootkit", "malicious_code")
    + _groups("syscheck,syscheck_entry_modified,syscheck_file,web_defacement,defacement",
              "information_content_security")
    + _groups("vulnerability-detector,vulnerability_detector,sca", "vulnerable")
    + _groups("authentication_failed,authentication_failures,invalid_login,brute_force,attack,web_attack,"
              "sql_injection,exploit_attempt,attacks", "intrusion_attempts")
    + _groups("authentication_success,adduser,invalid_access", "intrusions")
    + _groups("service_availability,dos", "availability")
    + _groups("spam", "abusive_content")
)


def _matches(rule: Rule, signature: str, signature_lower: str, source_category_lower: str,
             groups: tuple[str, ...], source: str) -> bool:
    if rule.source and rule.source != source:
        return False
    if rule.kind == "signature_prefix":
        return signature_lower.startswith(rule.pattern.lower())
    if rule.kind == "signature_pattern":
        return rule._regex.search(signature) is not None
    if rule.kind == "classtype":
        return source_category_lower == rule.pattern.lower()
    return rule.pattern in groups


def classify(rules: tuple[Rule, ...], *, signature: str, source_category: str, groups: tuple[str, ...] = (),
             source: str = "") -> tuple[str, str]:
    """(category code, name of the rule that decided it); the default category and ``"default"``
    when no rule matches."""
    signature_lower = signature.lower()
    category_lower = source_category.lower()
    for rule in rules:
        if _matches(rule, signature, signature_lower, category_lower, groups, source):
            return rule.category, rule.name
    return DEFAULT_CATEGORY, "default"


class Classifier:
    """``classify`` with a cache keyed by what the rules read (alerts repeat signatures heavily)."""

    def __init__(self, rules: tuple[Rule, ...] = DEFAULT_RULES) -> None:
        self.rules = tuple(rules)
        self._cache: dict[tuple, tuple[str, str]] = {}

    def __call__(self, *, signature: str, source_category: str, groups: tuple[str, ...] = (),
                 source: str = "") -> tuple[str, str]:
        key = (signature, source_category, groups, source)
        hit = self._cache.get(key)
        if hit is None:
            if len(self._cache) > 100_000:  # constant memory on adversarial input
                self._cache.clear()
            hit = self._cache[key] = classify(self.rules, signature=signature, source_category=source_category,
                                              groups=groups, source=source)
        return hit


def signature_family(signature: str) -> str:
    """The family of a signature: ``ET SCAN`` for ``ET SCAN Potential SSH Scan``, ``Apache`` for
    ``Apache: Attempt ...``; the first word otherwise."""
    parts = signature.split()
    if not parts:
        return ""
    if parts[0] in ("ET", "GPL", "ETPRO", "SURICATA") and len(parts) > 1:
        return f"{parts[0]} {parts[1]}"
    head = signature.split(":", 1)[0]
    if head != signature and len(head) <= 40:
        return head.strip()
    return parts[0]
