"""The Safeguarding application in viewflow's Material site: cases, shares and the queue."""

from __future__ import annotations

from django.urls import path
from viewflow.urls import Application

from cases import views as case_views
from permissions import views as access_views
from permissions.accounts import views as account_views

from . import (
    advice_views,
    chronology_views,
    deadline_views,
    family_views,
    reconsideration_views,
    views,
    worklists,
)
from .child_file import views as child_file_views
from .notifications import views as notification_views
from .record_views import DecisionRecordPdfView, DecisionRecordView
from .report_views import ReportExportView, ReportsView
from .search_views import SearchView
from .secure_link import sending
from .setting_admin import address_book as address_book_views
from .setting_admin import children as children_views
from .setting_admin import closures as closure_views
from .setting_admin import imports as import_views
from .setting_admin import setting as setting_admin_views
from .setting_admin import staff as staff_admin_views


class SafeguardingApp(Application):
    title = "Safeguarding"
    icon = "shield"
    app_name = "safeguarding"
    menu_template_name = "workflows/menu.html"

    index_path = path("", worklists.HomeView.as_view(), name="index")
    case_list_path = path("cases/", case_views.CaseListView.as_view(), name="case_list")
    search_path = path("search/", SearchView.as_view(), name="search")
    case_detail_path = path(
        "cases/<int:pk>/", case_views.CaseDetailView.as_view(), name="case_detail"
    )
    propose_path = path(
        "cases/<int:case_pk>/propose/", views.ProposeShareView.as_view(), name="share_propose"
    )
    my_shares_path = path("shares/", case_views.MyShareListView.as_view(), name="my_shares")
    share_detail_path = path(
        "shares/<int:pk>/", case_views.ShareDetailView.as_view(), name="share_detail"
    )
    share_edit_path = path(
        "shares/<int:pk>/edit/", views.EditDraftView.as_view(), name="share_edit"
    )
    share_withdraw_path = path(
        "shares/<int:pk>/withdraw/", views.WithdrawView.as_view(), name="share_withdraw"
    )
    deadlines_path = path(
        "deadlines/", deadline_views.DeadlinePolicyView.as_view(), name="deadlines"
    )
    notifications_path = path(
        "notifications/", notification_views.NotificationListView.as_view(), name="notifications"
    )
    notification_open_path = path(
        "notifications/<int:pk>/",
        notification_views.OpenNotificationView.as_view(),
        name="notification_open",
    )
    notification_read_path = path(
        "notifications/<int:pk>/read/",
        notification_views.MarkNotificationReadView.as_view(),
        name="notification_read",
    )
    emergency_release_path = path(
        "shares/<int:pk>/emergency/",
        views.EmergencyReleaseView.as_view(),
        name="emergency_release",
    )
    review_queue_path = path("review/", worklists.ReviewQueueView.as_view(), name="review_queue")
    lead_review_path = path(
        "shares/<int:pk>/review/", views.LeadReviewView.as_view(), name="lead_review"
    )
    ask_reconsideration_path = path(
        "shares/<int:pk>/ask-reconsideration/",
        reconsideration_views.AskReconsiderationView.as_view(),
        name="ask_reconsideration",
    )
    reconsider_path = path(
        "shares/<int:pk>/reconsider/",
        reconsideration_views.ReconsiderView.as_view(),
        name="reconsider",
    )
    family_told_path = path(
        "shares/<int:pk>/family-told/", family_views.FamilyToldView.as_view(), name="family_told"
    )
    family_follow_ups_path = path(
        "family-follow-ups/",
        family_views.FamilyFollowUpListView.as_view(),
        name="family_follow_ups",
    )
    chronology_path = path(
        "cases/<int:pk>/chronology/",
        chronology_views.ChronologyView.as_view(),
        name="chronology",
    )
    case_team_path = path(
        "cases/<int:pk>/team/", access_views.CaseTeamView.as_view(), name="case_team"
    )
    break_glass_path = path(
        "break-glass/", access_views.BreakGlassView.as_view(), name="break_glass"
    )
    break_glass_review_path = path(
        "break-glass/review/",
        access_views.BreakGlassReviewView.as_view(),
        name="break_glass_review",
    )
    audit_log_path = path("audit/", access_views.AuditLogView.as_view(), name="audit_log")
    # Each person's own sign-in: second factor, password, sessions.
    profile_path = path("account/", account_views.ProfileView.as_view(), name="profile")
    password_change_path = path(
        "account/password/", account_views.PasswordChangeView.as_view(), name="password_change"
    )
    authenticator_change_path = path(
        "account/authenticator/",
        account_views.AuthenticatorChangeView.as_view(),
        name="authenticator_change",
    )
    carry_on_path = path("account/carry-on/", account_views.CarryOnView.as_view(), name="carry_on")
    staff_sign_in_path = path(
        "staff/sign-in/", account_views.StaffSignInView.as_view(), name="staff_sign_in"
    )
    # The lead runs the setting: its details, who works there and in which role. A lead of
    # several settings picks one with ?setting=<pk>; a membership names its own setting.
    setting_details_path = path(
        "setting/", setting_admin_views.SettingDetailsView.as_view(), name="setting_details"
    )
    # Its term dates: the closures a child protection file's school days skip.
    setting_closures_path = path(
        "setting/term-dates/", closure_views.TermDatesView.as_view(), name="setting_closures"
    )
    setting_closure_remove_path = path(
        "setting/term-dates/<int:closure_pk>/remove/",
        closure_views.RemoveClosureView.as_view(),
        name="setting_closure_remove",
    )
    setting_staff_path = path(
        "setting/staff/", staff_admin_views.StaffView.as_view(), name="setting_staff"
    )
    setting_staff_member_path = path(
        "setting/staff/<int:membership_pk>/",
        staff_admin_views.StaffMemberView.as_view(),
        name="setting_staff_member",
    )
    record_release_path = path(
        "shares/<int:pk>/release/", views.RecordReleaseView.as_view(), name="record_release"
    )
    send_securely_path = path(
        "shares/<int:pk>/send/", sending.SendSecurelyView.as_view(), name="send_securely"
    )
    revoke_link_path = path(
        "shares/<int:pk>/links/<int:link>/revoke/",
        sending.RevokeLinkView.as_view(),
        name="revoke_link",
    )
    new_link_path = path(
        "shares/<int:pk>/links/new/", sending.NewLinkView.as_view(), name="new_link"
    )
    advice_ask_path = path(
        "shares/<int:pk>/advice/", advice_views.AskAdviceView.as_view(), name="advice_ask"
    )
    advice_asked_of_me_path = path(
        "advice/", advice_views.AdviceAskedOfMeView.as_view(), name="advice_asked_of_me"
    )
    advice_answer_path = path(
        "advice/<int:pk>/", advice_views.AnswerAdviceView.as_view(), name="advice_answer"
    )
    decision_record_path = path(
        "shares/<int:pk>/record/", DecisionRecordView.as_view(), name="decision_record"
    )
    decision_record_pdf_path = path(
        "shares/<int:pk>/record.pdf", DecisionRecordPdfView.as_view(), name="decision_record_pdf"
    )
    reports_path = path("reports/", ReportsView.as_view(), name="reports")
    reports_export_path = path(
        "reports/export.csv", ReportExportView.as_view(), name="reports_export"
    )
    # The setting's register, kept by its lead or a deputy: the children on its roll (and
    # opening their cases), and the address book. A keeper of several settings picks one with
    # ?setting=<pk> on the lists and add pages; a record's own page takes its setting.
    children_path = path(
        "setting/children/", children_views.ChildListView.as_view(), name="children"
    )
    child_add_path = path(
        "setting/children/add/", children_views.ChildAddView.as_view(), name="child_add"
    )
    child_detail_path = path(
        "setting/children/<int:child_pk>/",
        children_views.ChildDetailView.as_view(),
        name="child_detail",
    )
    send_child_file_path = path(
        "setting/children/<int:child_pk>/send-file/",
        child_file_views.SendChildFileView.as_view(),
        name="send_child_file",
    )
    child_files_path = path(
        "files/", child_file_views.ChildFileListView.as_view(), name="child_files"
    )
    file_request_ask_path = path(
        "files/ask/", child_file_views.FileRequestView.as_view(), name="file_request_ask"
    )
    file_request_path = path(
        "files/requests/<int:pk>/",
        child_file_views.FileRequestPageView.as_view(),
        name="file_request",
    )
    child_file_path = path(
        "files/<int:pk>/", child_file_views.ChildFileView.as_view(), name="child_file"
    )
    child_file_pdf_path = path(
        "files/<int:pk>/file.pdf",
        child_file_views.ChildFilePdfView.as_view(),
        name="child_file_pdf",
    )
    # A file sent outside the installation goes by secure link, revoked or renewed here.
    revoke_file_link_path = path(
        "files/<int:pk>/links/<int:link>/revoke/",
        child_file_views.RevokeFileLinkView.as_view(),
        name="revoke_file_link",
    )
    new_file_link_path = path(
        "files/<int:pk>/links/new/",
        child_file_views.NewFileLinkView.as_view(),
        name="new_file_link",
    )
    case_open_path = path(
        "setting/children/<int:child_pk>/open-case/",
        children_views.CaseOpenView.as_view(),
        name="case_open",
    )
    address_book_path = path(
        "setting/address-book/", address_book_views.AddressBookView.as_view(), name="address_book"
    )
    recipient_add_path = path(
        "setting/address-book/add/",
        address_book_views.RecipientAddView.as_view(),
        name="recipient_add",
    )
    recipient_detail_path = path(
        "setting/address-book/<int:recipient_pk>/",
        address_book_views.RecipientDetailView.as_view(),
        name="recipient_detail",
    )
    recipient_retire_path = path(
        "setting/address-book/<int:recipient_pk>/retire/",
        address_book_views.RecipientRetireView.as_view(),
        name="recipient_retire",
    )
    # Children (lead or deputy) or staff (lead) from a school MIS export: upload, then a
    # preview of every row to confirm or discard.
    register_import_path = path(
        "setting/import/", import_views.RegisterImportView.as_view(), name="register_import"
    )
    register_import_preview_path = path(
        "setting/import/<int:import_pk>/",
        import_views.RegisterImportPreviewView.as_view(),
        name="register_import_preview",
    )
