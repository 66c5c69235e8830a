"""Text of the manager pages in Bahasa Indonesia (the default) and English, and how numbers,
percentages and dates are written in each.

Every message has both languages (`MESSAGES[key] = (id, en)`); a test checks that each key a
template uses exists. Reasons that come with a plan are already in both languages and are
picked with `Translator.pick`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from types import MappingProxyType
from typing import Any

from features.columns import MIN_JP_RULE_EN, MIN_JP_RULE_ID

LANGUAGES = ("id", "en")
DEFAULT_LANGUAGE = "id"
LANGUAGE_NAMES = MappingProxyType({"id": "Bahasa Indonesia", "en": "English"})

_MONTHS_ID = ("Jan", "Feb", "Mar", "Apr", "Mei", "Jun", "Jul", "Agu", "Sep", "Okt", "Nov", "Des")
_MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

_MESSAGES: dict[str, tuple[str, str]] = {
    # --- frame, navigation -------------------------------------------------------------------
    "app_title": ("Rencana pengembangan kompetensi", "Competency development plans"),
    "skip_to_content": ("Langsung ke isi", "Skip to content"),
    "nav_label": ("Navigasi utama", "Main navigation"),
    "crumbs_label": ("Lokasi halaman", "Breadcrumbs"),
    "all_units": ("Semua unit", "All units"),
    "signed_in_as": ("Masuk sebagai", "Signed in as"),
    "sign_in": ("Masuk", "Sign in"),
    "sign_out": ("Keluar", "Sign out"),
    "role_manager": ("atasan", "manager"),
    "role_hr_system": ("sistem kepegawaian (baca saja)", "HR system (read only)"),
    "role_analyst": ("analis (baca saja)", "analyst (read only)"),
    "footer_model": ("Model versi {version}", "Model version {version}"),
    "footer_as_of": ("data per {date}", "data as of {date}"),
    "footer_rules": (
        f"Minimal 20 JP per tahun: {MIN_JP_RULE_ID} · Talenta: Permenpan RB 3/2020",
        f"At least 20 JP a year: {MIN_JP_RULE_EN} · Talent: Permenpan RB 3/2020",
    ),
    # --- sign-in ----------------------------------------------------------------------------
    "signin_title": ("Masuk ke halaman atasan", "Sign in to the manager pages"),
    "signin_intro": (
        "Tinjau, ubah dan setujui rencana pengembangan kompetensi pegawai di unit Anda.",
        "Review, change and approve the competency development plans of your unit's staff.",
    ),
    "signin_key": ("Kunci API", "API key"),
    "signin_help": (
        "Kunci API diberikan oleh pengelola sistem (kompeten keys create). Jangan bagikan "
        "kunci Anda; keluar setelah selesai di komputer bersama.",
        "Your API key comes from the system administrator (kompeten keys create). Do not "
        "share it; sign out when you finish on a shared computer.",
    ),
    # --- errors -----------------------------------------------------------------------------
    "error_title": ("Galat {status}", "Error {status}"),
    "error_generic": ("Permintaan tidak dapat diproses.", "The request could not be processed."),
    "error_forbidden": (
        "Pegawai atau unit ini bukan bagian dari unit Anda atau sub-unitnya.",
        "This employee or unit is not in your units or their sub-units.",
    ),
    "error_not_found": ("Halaman atau pegawai tidak ditemukan.", "Page or employee not found."),
    "error_not_ready": (
        "Model dan data belum dimuat. Coba lagi sebentar lagi.",
        "The model and data are not loaded yet. Try again in a moment.",
    ),
    "error_directory": (
        "Data pegawai (nama, jabatan, katalog) belum dapat dibaca. Coba lagi sebentar lagi.",
        "The employee data (names, positions, catalog) cannot be read yet. Try again shortly.",
    ),
    "error_csrf": (
        "Formulir ini tidak dapat diterima (sesi berubah atau dikirim dari situs lain). "
        "Muat ulang halaman lalu coba lagi.",
        "This form cannot be accepted (the session changed or it came from another site). "
        "Reload the page and try again.",
    ),
    "error_form_expired": (
        "Formulir kedaluwarsa. Silakan coba masuk lagi.",
        "The form expired. Please sign in again.",
    ),
    "error_throttled": (
        "Terlalu banyak percobaan masuk yang gagal. Coba lagi beberapa menit lagi.",
        "Too many failed sign-in attempts. Try again in a few minutes.",
    ),
    "error_bad_key": ("Kunci API tidak valid atau sudah dicabut.", "Invalid or revoked API key."),
    "error_role": (
        "Kunci ini tidak dapat dipakai untuk halaman atasan.",
        "This key cannot be used for the manager pages.",
    ),
    "error_cannot_review": (
        "Hanya atasan yang dapat meninjau rencana.",
        "Only managers can review plans.",
    ),
    "error_bad_form": (
        "Isian formulir tidak lengkap atau tidak valid.",
        "The form is incomplete or invalid.",
    ),
    "error_bad_course": (
        "Pelatihan yang dipilih tidak ada di katalog atau tidak aktif.",
        "The chosen course is not in the catalog or not active.",
    ),
    "error_change_refused": (
        "Perubahan tidak disimpan: pelatihan tidak dikenal, tidak aktif, sudah diikuti, ganda, "
        "urutannya mendahului prasyaratnya, atau prasyaratnya dihapus.",
        "The change was not stored: a course that is unknown, inactive, already taken or "
        "duplicated, placed before its prerequisite, or whose prerequisite was removed.",
    ),
    "error_bad_position": (
        "Urutan harus berupa angka 1 sampai 999.",
        "A position must be a number from 1 to 999.",
    ),
    "error_missing_prerequisite": (
        "Prasyarat pelatihan yang ditambahkan belum selesai (yang masih berjalan belum dihitung) "
        "dan tidak ada lebih awal di rencana.",
        "A prerequisite of the added course is not completed (an ongoing one does not count) "
        "and not earlier in the plan.",
    ),
    "error_no_changes": (
        "Tidak ada perubahan: tandai pelatihan yang dihapus atau pilih pelatihan yang ditambahkan.",
        "No changes: tick a course to remove or choose a course to add.",
    ),
    "error_reason_required": (
        "Tuliskan alasan penolakan pada kolom catatan.",
        "Write the reason for rejecting in the comment.",
    ),
    "error_form_used": (
        "Formulir ini sudah dipakai untuk keputusan lain. Muat ulang halaman.",
        "This form was already used for another decision. Reload the page.",
    ),
    "back_to_units": ("Kembali ke unit saya", "Back to my units"),
    # --- units ------------------------------------------------------------------------------
    "units_title": ("Unit kerja", "Work units"),
    "units_none": (
        "Tidak ada unit untuk kunci ini di data yang dimuat.",
        "No unit of this key is in the loaded data.",
    ),
    "n_employees": ("{n} pegawai", "{n} employees"),
    "incl_subunits": ("termasuk sub-unit", "including sub-units"),
    "needs_link": ("Analisis kebutuhan pelatihan", "Training-needs analysis"),
    "approved_xlsx": ("Rencana disetujui (Excel)", "Approved plans (Excel)"),
    "approved_csv": ("Rencana disetujui (CSV)", "Approved plans (CSV)"),
    "summary_label": ("Ringkasan", "Summary"),
    "stat_employees": ("pegawai", "employees"),
    "stat_behind": ("di bawah {min} JP tahun ini", "below {min} JP this year"),
    "stat_risk_high": ("risiko partisipasi tinggi", "high participation risk"),
    "status_new": ("Baru", "New"),
    "data_changed_since_review": (
        "Data berubah sejak tinjauan Anda",
        "Data changed since your review",
    ),
    "data_changed_since_review_help": (
        "Rencana dari data terbaru berbeda dari rencana yang ditinjau; periksa lagi.",
        "The plan from the latest data differs from the plan reviewed; check it again.",
    ),
    "status_approved": ("Disetujui", "Approved"),
    "status_rejected": ("Ditolak", "Rejected"),
    "status_changed": ("Diubah", "Changed"),
    # --- 9-box ------------------------------------------------------------------------------
    "ninebox_title": ("Peta talenta 9 kotak", "9-box talent map"),
    "ninebox_intro": (
        "Kinerja dari SKP (rata-rata 3 tahun terakhir; rendah < {k_low}, tinggi ≥ {k_high}) × "
        "potensi dari kompetensi (rata-rata level saat ini / level jabatan; rendah < {p_low}, "
        "tinggi ≥ {p_high}).",
        "Performance from the SKP (mean of the last 3 years; low < {k_low}, high ≥ {k_high}) × "
        "potential from competencies (mean current / required level; low < {p_low}, "
        "high ≥ {p_high}).",
    ),
    "ninebox_unplaced": (
        "{n} pegawai belum dapat dipetakan (belum ada SKP atau asesmen kompetensi).",
        "{n} employees cannot be placed yet (no SKP rating or competency assessment).",
    ),
    "ninebox_source": (
        "Tindak lanjut per kotak: bacaan kami atas Permenpan RB 3/2020; keputusan manajemen "
        "talenta instansi yang berlaku.",
        "Follow-up per box: our reading of Permenpan RB 3/2020; the agency's talent-management "
        "decree prevails.",
    ),
    "axis_potensi": ("Potensi", "Potential"),
    "axis_kinerja": ("Kinerja", "Performance"),
    "box_n": ("Kotak {n}", "Box {n}"),
    "box_filter": ("Tampilkan pegawai di kotak {n}", "Show the employees in box {n}"),
    "band_potensi_0": ("potensi rendah", "low potential"),
    "band_potensi_1": ("potensi menengah", "medium potential"),
    "band_potensi_2": ("potensi tinggi", "high potential"),
    "band_kinerja_0": ("kinerja di bawah ekspektasi", "performance below expectations"),
    "band_kinerja_1": ("kinerja sesuai ekspektasi", "performance meets expectations"),
    "band_kinerja_2": ("kinerja di atas ekspektasi", "performance above expectations"),
    "and_more": ("dan {n} lainnya", "and {n} more"),
    "box_unplaced": (
        "Belum dapat dipetakan: belum ada SKP atau asesmen kompetensi.",
        "Cannot be placed yet: no SKP rating or competency assessment.",
    ),
    "box1_note": (
        "Kotak 1: menurut Permenpan RB 3/2020 pegawai ini diproses sesuai ketentuan "
        "peraturan perundang-undangan; pelatihan tambahan bukan tindak lanjut yang ditetapkan. "
        "Pertimbangkan ini sebelum menyetujui jalur pelatihan.",
        "Box 1: under Permenpan RB 3/2020 this employee is handled in accordance with the "
        "applicable laws and regulations; more training is not the prescribed follow-up. "
        "Weigh this before approving a training path.",
    ),
    # --- list -------------------------------------------------------------------------------
    "employees_title": ("Pegawai", "Employees"),
    "filter_search": ("Cari nama atau NIP", "Search name or NIP"),
    "filter_unit": ("Unit", "Unit"),
    "filter_status": ("Status rencana", "Plan status"),
    "filter_box": ("Kotak talenta", "Talent box"),
    "filter_behind": ("Hanya yang di bawah {min} JP", "Only those below {min} JP"),
    "filter_risk_high": ("Hanya risiko tinggi", "Only high risk"),
    "all": ("Semua", "All"),
    "sort_by": ("Urutkan", "Sort by"),
    "sort_gap": ("Kesenjangan terbesar", "Largest gap"),
    "sort_jp": ("JP tahun ini", "JP this year"),
    "sort_risk": ("Risiko partisipasi", "Participation risk"),
    "sort_name": ("Nama", "Name"),
    "sort_status": ("Status rencana", "Plan status"),
    "sort_box": ("Kotak talenta", "Talent box"),
    "sort_dir": ("Arah", "Direction"),
    "dir_default": ("Bawaan", "Default"),
    "dir_asc": ("Naik", "Ascending"),
    "dir_desc": ("Turun", "Descending"),
    "apply": ("Terapkan", "Apply"),
    "reset": ("Hapus filter", "Clear filters"),
    "showing": (
        "Menampilkan {shown} dari {total} (unit: {all})",
        "Showing {shown} of {total} (unit: {all})",
    ),
    "no_match": ("Tidak ada pegawai yang cocok dengan filter.", "No employee matches the filters."),
    "pages_label": ("Halaman daftar", "List pages"),
    "previous": ("Sebelumnya", "Previous"),
    "next": ("Berikutnya", "Next"),
    "page_of": ("Halaman {n} dari {count}", "Page {n} of {count}"),
    "col_employee": ("Pegawai", "Employee"),
    "col_unit_name": ("Unit", "Unit"),
    "col_largest_gaps": ("Kesenjangan terbesar", "Largest gaps"),
    "col_jp_year": ("JP {year}", "JP {year}"),
    "col_plan_jp": ("JP rencana", "Planned JP"),
    "col_risk": ("Risiko", "Risk"),
    "col_box": ("Kotak", "Box"),
    "col_status": ("Status", "Status"),
    "gap_title": (
        "level saat ini {current}, dipersyaratkan {required}",
        "current level {current}, required {required}",
    ),
    "no_gaps": ("Tidak ada kesenjangan", "No gaps"),
    "behind": ("kurang", "behind"),
    "risk_high": ("tinggi", "high"),
    # --- plan page --------------------------------------------------------------------------
    "saved_approved": ("Rencana disetujui dan tersimpan.", "Plan approved and saved."),
    "saved_rejected": ("Penolakan tersimpan.", "Rejection saved."),
    "saved_changed": ("Perubahan rencana tersimpan.", "Plan changes saved."),
    "competencies_title": (
        "Kompetensi: saat ini dan yang dipersyaratkan",
        "Competencies: current and required",
    ),
    "chart_title": (
        "Level kompetensi saat ini dibanding level jabatan",
        "Current competency levels against the position's levels",
    ),
    "chart_current": ("saat ini", "current"),
    "chart_short": ("di bawah syarat", "below requirement"),
    "chart_required": ("syarat jabatan", "required"),
    "chart_unassessed": ("belum diases", "not assessed"),
    "talent_title": ("Peta talenta", "Talent map"),
    "jp_title": ("Jam pelajaran (JP)", "Training hours (JP)"),
    "jp_year_line": (
        "Tahun {year}: {jp} JP selesai dari minimal {min} JP.",
        "{year}: {jp} JP completed of the minimum {min} JP.",
    ),
    "jp_plan_line": (
        "Rencana ini: {jp} JP (anggaran {budget} JP).",
        "This plan: {jp} JP (budget {budget} JP).",
    ),
    "jp_plan_catches_up": (
        "Dengan rencana ini minimal {min} JP tercapai.",
        "With this plan the minimum of {min} JP is reached.",
    ),
    "jp_plan_short": (
        "Rencana ini belum cukup untuk mencapai {min} JP.",
        "This plan is not enough to reach {min} JP.",
    ),
    "path_title": ("Jalur pelatihan yang direkomendasikan", "Recommended training path"),
    "path_changed_note": (
        "Jalur ini sudah memuat perubahan atasan (lihat riwayat).",
        "This path includes the manager's changes (see the history).",
    ),
    "path_empty": ("Tidak ada pelatihan dalam jalur.", "No course in the path."),
    "col_course": ("Pelatihan", "Course"),
    "col_reason": ("Alasan", "Why"),
    "col_edit": ("Ubah", "Change"),
    "badge_adapted": ("format disesuaikan dengan risiko", "format adapted to the risk"),
    "badge_added": ("ditambahkan atasan", "added by the manager"),
    "badge_missing_prereq": ("prasyarat {course} belum ada", "prerequisite {course} missing"),
    "p_complete": ("Peluang selesai: {p}", "Chance of completing: {p}"),
    "remove": ("hapus", "remove"),
    "position": ("urutan", "position"),
    "total": ("Jumlah", "Total"),
    "budget_line": ("Anggaran {budget} JP", "Budget {budget} JP"),
    "over_budget": ("melebihi anggaran", "over budget"),
    "mentor_title": ("Mentor yang diusulkan", "Proposed mentor"),
    "mentor_focus": ("Fokus: {competency}", "Focus: {competency}"),
    "mentor_changed": ("dipilih oleh atasan", "chosen by the manager"),
    "mentor_none": ("Belum ada mentor yang memenuhi syarat.", "No eligible mentor yet."),
    "risk_title": ("Risiko partisipasi", "Participation risk"),
    "risk_level_high": ("tinggi", "high"),
    "risk_level_normal": ("wajar", "normal"),
    "risk_why": ("Mengapa", "Why"),
    "risk_what": ("Yang dilakukan rencana", "What the plan does"),
    "risk_no_action": (
        "Risiko di bawah {threshold}: format pelatihan tidak perlu disesuaikan.",
        "Risk below {threshold}: no need to adapt the course formats.",
    ),
    "risk_adapted_steps": (
        "{n} pelatihan dalam jalur dipilih dengan format yang lebih sering diselesaikan.",
        "{n} courses of the path were chosen in formats that are completed more often.",
    ),
    "risk_unknown": ("Risiko belum dapat diperkirakan.", "The risk cannot be estimated yet."),
    "review_title": ("Tinjauan atasan", "Manager review"),
    "review_add": ("Tambah pelatihan dari katalog", "Add a course from the catalog"),
    "review_add_none": ("— tidak menambah —", "— add nothing —"),
    "review_add_relevant": ("Menutup kesenjangan pegawai ini", "Closes this employee's gaps"),
    "review_add_other": ("Pelatihan aktif lainnya", "Other active courses"),
    "review_comment": ("Catatan (wajib untuk penolakan)", "Comment (required to reject)"),
    "review_help": (
        "Perubahan yang ditandai (hapus, urutan, tambah) disimpan lebih dulu; Setujui lalu "
        "menyetujui rencana yang sudah diubah.",
        "Marked changes (remove, order, add) are saved first; Approve then approves the "
        "changed plan.",
    ),
    "decision_approve": ("Setujui", "Approve"),
    "decision_change": ("Simpan perubahan", "Save changes"),
    "decision_reject": ("Tolak", "Reject"),
    "review_read_only": (
        "Kunci ini hanya dapat membaca; peninjauan dilakukan oleh atasan.",
        "This key can only read; managers do the reviews.",
    ),
    "history_title": ("Riwayat tinjauan", "Review history"),
    "history_none": ("Belum ada tinjauan.", "No reviews yet."),
    "history_removed": ("Dihapus", "Removed"),
    "history_added": ("Ditambahkan", "Added"),
    "history_order": ("Urutan baru", "New order"),
    "history_budget": ("Anggaran JP menjadi {budget}", "JP budget set to {budget}"),
    "history_mentor": ("Mentor menjadi {name}", "Mentor set to {name}"),
    "model_version_short": ("model v{version}", "model v{version}"),
    # --- training-needs analysis ------------------------------------------------------------
    "needs_title": ("Analisis kebutuhan pelatihan", "Training-needs analysis"),
    "needs_intro": (
        "Dihitung dari kesenjangan kompetensi dan rencana (termasuk perubahan atasan) semua "
        "pegawai unit ini.",
        "Computed from the competency gaps and plans (including managers' changes) of all "
        "employees of this unit.",
    ),
    "download_xlsx": ("Unduh Excel", "Download Excel"),
    "needs_competencies_title": ("Kompetensi yang paling kurang", "Most lacking competencies"),
    "needs_courses_title": ("Pelatihan dalam rencana", "Courses in the plans"),
    "needs_courses_intro": (
        "Berapa pegawai yang dilayani setiap pelatihan: dasar untuk menyusun kelas.",
        "How many employees each course serves: the basis for scheduling classes.",
    ),
    "needs_modules_title": (
        "Modul yang perlu dipesan dari perguruan tinggi mitra",
        "Modules to commission from partner universities",
    ),
    "needs_modules_intro": (
        "Kesenjangan yang tidak tertutup oleh pelatihan aktif mana pun: dari level yang dapat "
        "dicapai katalog sampai level jabatan.",
        "Gaps no active course closes: from the level the catalog reaches up to the "
        "position's level.",
    ),
    "n_of": ("{n} dari {total}", "{n} of {total}"),
    "none": ("Tidak ada.", "None."),
    "modules_none": (
        "Semua kesenjangan dapat ditutup dengan pelatihan aktif.",
        "Every gap can be closed with active courses.",
    ),
    "level_range": ("level {low} → {high}", "level {low} → {high}"),
    "catalog_none": (
        "tidak ada pelatihan aktif untuk kompetensi ini",
        "no active course for this competency",
    ),
    "catalog_too_low": (
        "pelatihan aktif tidak sampai level ini",
        "active courses stop below this level",
    ),
    "col_name": ("Kompetensi", "Competency"),
    "col_n_gap": ("Pegawai dengan kesenjangan", "Employees with a gap"),
    "col_mean_gap": ("Rata-rata kesenjangan", "Mean gap"),
    "col_total_gap": ("Jumlah kesenjangan (level)", "Total gap (levels)"),
    "col_n_unassessed": ("Belum diases", "Not assessed"),
    "col_mode": ("Format", "Format"),
    "col_n_employees": ("Pegawai", "Employees"),
    "col_total_jp": ("Jumlah JP", "Total JP"),
    "col_levels": ("Level", "Levels"),
    "col_catalog": ("Katalog saat ini", "Current catalog"),
    # --- download column headers ------------------------------------------------------------
    "col_competency_id": ("Kode kompetensi", "Competency code"),
    "col_n_required": ("Pegawai yang dipersyaratkan", "Employees required"),
    "col_share_gap": ("Porsi dengan kesenjangan", "Share with a gap"),
    "col_course_id": ("Kode pelatihan", "Course code"),
    "col_title": ("Judul", "Title"),
    "col_hours_jp": ("JP", "JP"),
    "col_competency_ids": ("Kompetensi", "Competencies"),
    "col_from_level": ("Dari level", "From level"),
    "col_to_level": ("Ke level", "To level"),
    "col_has_active_course": ("Ada pelatihan aktif", "Has an active course"),
    "col_nip": ("NIP", "NIP"),
    "col_employee_name": ("Nama", "Name"),
    "col_unit_id": ("Kode unit", "Unit code"),
    "col_position": ("Jabatan", "Position"),
    "col_order": ("Urutan", "Order"),
    "col_provider": ("Penyelenggara", "Provider"),
    "col_added_by_manager": ("Ditambahkan atasan", "Added by the manager"),
    "col_plan_total_jp": ("Jumlah JP rencana", "Plan total JP"),
    "col_approved_at": ("Disetujui pada", "Approved at"),
    "col_model_version": ("Versi model", "Model version"),
    "sheet_kompetensi": ("Kompetensi", "Competencies"),
    "sheet_pelatihan": ("Pelatihan", "Courses"),
    "sheet_modul": ("Modul dipesan", "Modules to commission"),
    "sheet_approved": ("Rencana disetujui", "Approved plans"),
    # --- course modes -----------------------------------------------------------------------
    "mode_klasikal": ("klasikal", "classroom"),
    "mode_e_learning": ("e-learning", "e-learning"),
    "mode_blended": ("blended", "blended"),
    "mode_workshop": ("lokakarya", "workshop"),
    "mode_seminar": ("seminar", "seminar"),
    "mode_coaching": ("coaching", "coaching"),
    "mode_mentoring": ("mentoring", "mentoring"),
    "mode_magang": ("magang", "internship"),
}

#: Message key -> (Bahasa Indonesia, English).
MESSAGES: Mapping[str, tuple[str, str]] = MappingProxyType(_MESSAGES)


def resolve_language(value: str | None) -> str:
    """A supported language code; anything else is the default (Bahasa Indonesia)."""
    code = (value or "").strip().lower()[:2]
    return code if code in LANGUAGES else DEFAULT_LANGUAGE


def translate(key: str, lang: str, **values: Any) -> str:
    """The message `key` in `lang`, placeholders filled. An unknown key raises KeyError."""
    text = MESSAGES[key][LANGUAGES.index(resolve_language(lang))]
    return text.format(**values) if values else text


def _missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return math.isnan(float(value))
    except (TypeError, ValueError):
        return False


def format_number(value: Any, lang: str, digits: int = 0) -> str:
    """1234.5 -> '1.234,5' (id) or '1,234.5' (en); '–' for a missing value."""
    if _missing(value):
        return "–"
    text = f"{float(value):,.{digits}f}"
    if resolve_language(lang) == "id":
        text = text.replace(",", "\0").replace(".", ",").replace("\0", ".")
    return text


class Translator:
    """`t` in the templates: messages, bilingual picks and number/date formats in one language."""

    def __init__(self, lang: str, utc_offset: timedelta = timedelta(hours=7)) -> None:
        self.lang = resolve_language(lang)
        self.utc_offset = utc_offset

    def __call__(self, key: str, **values: Any) -> str:
        return translate(key, self.lang, **values)

    @property
    def other_lang(self) -> str:
        return LANGUAGES[1 - LANGUAGES.index(self.lang)]

    @property
    def other_name(self) -> str:
        return LANGUAGE_NAMES[self.other_lang]

    @property
    def decimal(self) -> str:
        return "," if self.lang == "id" else "."

    def pick(self, text_id: str | None, text_en: str | None) -> str:
        """The text in this language, falling back to the other when it is empty."""
        first, second = (text_id, text_en) if self.lang == "id" else (text_en, text_id)
        return first or second or ""

    def number(self, value: Any, digits: int = 0) -> str:
        return format_number(value, self.lang, digits)

    def percent(self, value: Any, digits: int = 0) -> str:
        if _missing(value):
            return "–"
        return format_number(100.0 * float(value), self.lang, digits) + "%"

    def level(self, value: Any) -> str:
        """A competency level: '3' or '2,4' (one decimal only when fractional); '–' if none."""
        if _missing(value):
            return "–"
        number = float(value)
        return self.number(number, 0 if number.is_integer() else 1)

    def date(self, value: date | datetime | Any) -> str:
        if value is None:
            return "–"
        day = value.date() if hasattr(value, "date") and callable(value.date) else value
        months = _MONTHS_ID if self.lang == "id" else _MONTHS_EN
        return f"{day.day} {months[day.month - 1]} {day.year}"

    def datetime(self, value: datetime | None) -> str:
        """A UTC timestamp in the configured local time (WIB by default)."""
        if value is None:
            return "–"
        moment = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        local = moment.astimezone(UTC) + self.utc_offset
        hours = self.utc_offset.total_seconds() / 3600
        zone = {7.0: "WIB", 8.0: "WITA", 9.0: "WIT"}.get(hours, f"UTC{hours:+g}")
        return f"{self.date(local)} {local:%H:%M} {zone}"
