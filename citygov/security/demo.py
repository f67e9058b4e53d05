"""Demo data of the security module: devices and software inventories for a few Taoyuan agencies.

Everything goes through the import services (so the change log is filled and identification runs the
way it does for real files). Idempotent: an agency that already has devices is left alone.
"""

from __future__ import annotations

import csv
import datetime as dt
import random
import tempfile
from dataclasses import dataclass
from pathlib import Path

from citygov.agencies.models import Agency
from citygov.security.models import CoreSystem, Device
from citygov.security.services import (
    SecurityTestInput,
    do_add_finding,
    do_import_components,
    do_import_devices,
    do_import_inventory,
    do_import_systems,
    do_record_security_test,
)

# (agency code, devices, share with VANS, share with EDR)
DEMO_AGENCIES = (("sccdc", 14, 1.0, 0.9), ("tycg", 16, 0.9, 0.6), ("police", 12, 0.8, 0.75),
                 ("land", 10, 0.7, 0.3), ("culture", 8, 0.5, 0.0), ("do-zhongli", 8, 0.6, 0.0))
# Programs typical of the city's PCs: some current, some old and vulnerable, some with no CPE at all.
DEMO_SOFTWARE = (
    ("Google Chrome", "131.0.6778.140", "Google LLC"), ("Google Chrome", "100.0.4896.60", "Google LLC"),
    ("Microsoft Edge", "131.0.2903.86", "Microsoft Corporation"),
    ("Microsoft Office 專業增強版 2019 - zh-tw", "16.0.10416.20058", "Microsoft Corporation"),
    ("Microsoft Office 標準版 2016 - zh-tw", "16.0.4266.1001", "Microsoft Corporation"),
    ("Microsoft 365 Apps 企業版 - zh-tw", "16.0.18129.20158", "Microsoft Corporation"),
    ("Microsoft Visual C++ 2015-2022 Redistributable (x64) - 14.40.33810", "14.40.33810.0", "Microsoft Corporation"),
    ("Java 8 Update 381 (64-bit)", "8.0.3810.9", "Oracle Corporation"),
    ("Java 8 Update 202", "8.0.2020.8", "Oracle Corporation"),
    ("7-Zip 24.08 (x64)", "24.08", "Igor Pavlov"), ("7-Zip 19.00 (x64)", "19.00", "Igor Pavlov"),
    ("WinRAR 7.13 (64 位元)", "7.13.0", "win.rar GmbH"), ("WinRAR 6.22 (64 位元)", "6.22.0", "win.rar GmbH"),
    ("Adobe Acrobat Reader DC - Chinese Traditional", "24.005.20320", "Adobe"),
    ("Notepad++ (64-bit x64)", "8.6.9", "Notepad++ Team"), ("VLC media player", "3.0.21", "VideoLAN"),
    ("PuTTY release 0.80 (64-bit)", "0.80.0.0", "Simon Tatham"), ("LINE", "9.4.2.3575", "LY Corporation"),
    ("Zoom Workplace (64-bit)", "6.3.11", "Zoom Video Communications, Inc."),
    ("Foxit PDF Reader", "2024.3.0.26795", "Foxit Software Inc."), ("福昕閱讀器", "12.1.3.15356", "福昕軟體"),
    ("HiCOS PKI Smart Card Client v3.1.0.23306", "3.1.0.23306", "內政部憑證管理中心"),
    ("電子公文製作系統", "5.2.3", "凌網科技"), ("健保卡讀卡機控制軟體", "5.1.5.6", "衛生福利部中央健康保險署"),
    ("全字庫正楷體", "2.0", "國家發展委員會"), ("嘸蝦米輸入法", "3.0", "行易有限公司"),
    ("桃園市政府 差勤系統 元件", "1.0", "桃園市政府"), ("ACME 檔案傳輸工具", "2.3", "ACME 資訊"),
    ("Trend Micro Apex One Security Agent", "14.0.12932", "Trend Micro Inc."),
)
SERVER_SOFTWARE = (
    ("openssh-server", "1:9.2p1-2+deb12u3", "Debian"), ("openssl", "3.0.15-1~deb12u1", "Debian"),
    ("apache2", "2.4.62-1~deb12u2", "Debian"), ("nginx", "1.22.1-9", "Debian"), ("sudo", "1.9.13p3-1+deb12u1", "Debian"),
    ("postgresql-15", "15.10-0+deb12u1", "Debian"), ("linux-image-6.1.0-28-amd64", "6.1.119-1", "Debian"),
)


@dataclass(frozen=True)
class SecurityDemoResult:
    """What the demo seeding created."""

    agencies: int
    devices: int
    software: int
    systems: int = 0


def seed_security_demo(admin) -> SecurityDemoResult:
    """Seed devices and inventories for the demo agencies through the import services; idempotent."""
    rng = random.Random(2025)
    agencies = {a.code: a for a in Agency.objects.filter(code__in=[c for c, *_ in DEMO_AGENCIES])}
    seeded = devices = software = 0
    with tempfile.TemporaryDirectory() as tmp:
        for code, count, vans_share, edr_share in DEMO_AGENCIES:
            agency = agencies.get(code)
            if agency is None or Device.objects.filter(agency=agency).exists():
                continue
            device_file, inventory_file = Path(tmp) / f"{code}-devices.csv", Path(tmp) / f"{code}-software.csv"
            with device_file.open("w", encoding="utf-8", newline="") as d_handle, \
                    inventory_file.open("w", encoding="utf-8", newline="") as s_handle:
                d_out, s_out = csv.writer(d_handle), csv.writer(s_handle)
                d_out.writerow(["hostname", "device_type", "os", "vans_enrolled", "edr_installed", "last_seen"])
                s_out.writerow(["hostname", "display_name", "display_version", "publisher"])
                for n in range(count):
                    server = n < 2
                    host = f"{code.upper()}-{'SRV' if server else 'PC'}{n + 1:03d}"
                    d_out.writerow([host, "server" if server else "pc",
                                    "Debian 12" if server else "Windows 11 Pro 23H2",
                                    "yes" if rng.random() < vans_share else "no",
                                    "yes" if rng.random() < edr_share else "no", f"2025-11-{rng.randint(1, 20):02d}"])
                    programs = SERVER_SOFTWARE if server else rng.sample(DEMO_SOFTWARE, 14)
                    for name, version, publisher in programs:
                        s_out.writerow([host, name, version, publisher])
            do_import_devices(admin, agency.pk, device_file)
            report = do_import_inventory(admin, agency.pk, inventory_file)
            seeded += 1
            devices += count
            software += report.created
        systems = seed_systems_demo(admin, Path(tmp))
    return SecurityDemoResult(seeded, devices, software, systems)


SYSTEM_HEADER = ["name", "is_core", "description", "vendor", "budgets", "software_warranty_end",
                 "hardware_warranty_end", "last_patch", "status", "backup_method", "backup_location",
                 "backup_frequency", "last_backup", "last_restore_drill", "drill_result", "rpo_target_hours",
                 "rto_target_hours", "rpo_achieved_hours", "rto_achieved_hours"]


def _demo_systems(today: dt.date) -> dict[str, list[list]]:
    """The audit's picture: only the official website has a tested off-site backup among the core systems,
    and a platform whose software warranty expired at the end of 2022 has not been patched since."""
    ago = lambda days: (today - dt.timedelta(days=days)).isoformat()  # noqa: E731
    ahead = lambda days: (today + dt.timedelta(days=days)).isoformat()  # noqa: E731
    return {
        "sccdc": [
            ["桃園市政府全球資訊網", "yes", "市府入口網站（官網）", "凌網科技", "2023:3200000; 2024:2800000; 2025:2900000",
             ahead(400), ahead(400), ago(12), "active", "cloud", "政府雲端異地備份區（台中）", "每日", ago(1), ago(60),
             "passed", 24, 8, 12, 5],
            ["市民卡點數平台", "yes", "市民卡點數發放、兌換與清算", "點數平台承商", "2021:5600000; 2022:4100000",
             "2022-12-31", ahead(200), "2022-10-15", "active", "none", "", "", ago(1), "", "", 24, 24, "", ""],
            ["公文管理系統", "yes", "全府公文線上簽核", "公文系統承商", "2024:1800000; 2025:1800000",
             ahead(300), ahead(300), ago(30), "active", "city_site", "中壢區異地機房", "每週", ago(4), ago(45),
             "failed", 24, 12, 168, 72],
        ],
        "tycg": [
            ["差勤管理系統", "yes", "員工差假、加班與出勤", "差勤系統承商", "2025:600000", ahead(120), ahead(120),
             ago(20), "active", "none", "", "", ago(1), "", "", 24, 24, "", ""],
        ],
        "police": [
            ["110 報案受理系統", "yes", "民眾報案與派遣", "警政系統承商", "2024:7400000; 2025:7600000", ahead(500),
             ahead(500), ago(40), "active", "idc", "民間 IDC 機房（台北）", "每日", ago(1), ago(500), "passed", 1, 4,
             1, 3],
        ],
        "land": [
            ["地政整合系統", "yes", "地籍、地價與測量資料", "地政系統承商", "2023:2500000", "2023-06-30", "2023-06-30",
             ago(100), "active", "none", "", "", ago(2), "", "", 24, 24, "", ""],
        ],
        "culture": [
            ["藝文活動報名網", "no", "藝文活動資訊與線上報名", "藝文網承商", "2024:300000", ahead(30), "", ago(200),
             "active", "none", "", "", ago(7), "", "", 72, 72, "", ""],
        ],
    }


DEMO_COMPONENTS = {
    "sccdc": [["桃園市政府全球資訊網", "nginx", "1.22.1-9", "Debian"],
              ["桃園市政府全球資訊網", "openssl", "3.0.15-1~deb12u1", "Debian"],
              ["市民卡點數平台", "apache2", "2.4.49-1", "Debian"],
              ["市民卡點數平台", "openssl", "1.0.2k", ""],
              ["市民卡點數平台", "Java 8 Update 202", "8.0.2020.8", "Oracle Corporation"],
              ["公文管理系統", "Microsoft SQL Server 2012", "11.0.7001.0", "Microsoft Corporation"]],
    "land": [["地政整合系統", "openssh-server", "1:7.4p1-10", "Debian"]],
}


def seed_systems_demo(admin, tmp: Path, today: dt.date | None = None) -> int:
    """Seed the demo agencies' information systems, components, tests and findings; idempotent."""
    today = today or dt.date.today()
    agencies = {a.code: a for a in Agency.objects.filter(code__in=list(_demo_systems(today)))}
    created = 0
    for code, rows in _demo_systems(today).items():
        agency = agencies.get(code)
        if agency is None or CoreSystem.objects.filter(agency=agency).exists():
            continue
        systems_file, components_file = tmp / f"{code}-systems.csv", tmp / f"{code}-components.csv"
        with systems_file.open("w", encoding="utf-8", newline="") as handle:
            out = csv.writer(handle)
            out.writerow(SYSTEM_HEADER)
            out.writerows(rows)
        created += do_import_systems(admin, agency.pk, systems_file).created
        if code in DEMO_COMPONENTS:
            with components_file.open("w", encoding="utf-8", newline="") as handle:
                out = csv.writer(handle)
                out.writerow(["system", "display_name", "display_version", "publisher"])
                out.writerows(DEMO_COMPONENTS[code])
            do_import_components(admin, agency.pk, components_file)
        if code == "sccdc":
            website = CoreSystem.objects.get(agency=agency, name="桃園市政府全球資訊網")
            platform = CoreSystem.objects.get(agency=agency, name="市民卡點數平台")
            pentest = do_record_security_test(admin, agency.pk, SecurityTestInput(
                "pentest", "官網滲透測試", today - dt.timedelta(days=120), "資安檢測廠商", website.pk))
            do_add_finding(admin, pentest.pk, "後台登入頁未限制錯誤次數", "high", today - dt.timedelta(days=60))
            do_add_finding(admin, pentest.pk, "回應標頭洩漏伺服器版本", "low", today + dt.timedelta(days=30))
            drill = do_record_security_test(admin, agency.pk, SecurityTestInput(
                "red_blue", "紅藍隊演練：點數平台", today - dt.timedelta(days=90), "國家資通安全研究院", platform.pk))
            do_add_finding(admin, drill.pk, "Apache HTTP Server 2.4.49 路徑穿越可取得主機權限", "critical",
                           today - dt.timedelta(days=60))
    return created
