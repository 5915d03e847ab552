//! One module per artifact. Adding an artifact: write its file here and add it to [`all`].

mod applications;
pub mod backup_info;
mod calendar;
mod calls;
mod chrome_favicon;
mod chrome_history;
mod common;
mod configuration_profiles;
mod contacts;
mod datausage;
mod firefox_favicon;
mod firefox_history;
mod global_preferences;
mod id_status_cache;
mod interaction_c;
mod locationd_clients;
mod manifest;
mod os_analytics_ad_daily;
mod profile_events;
mod safari_browser_state;
mod safari_history;
mod shortcuts;
mod sms;
mod sms_attachments;
mod tcc;
#[cfg(test)]
pub(crate) mod test_support;
mod webkit_resource_load_statistics;
mod webkit_session_resource_log;
mod whatsapp;
mod whatsapp_contacts;

use crate::IosModule;

/// Every module run on an iOS backup, in MVT's order.
pub fn all() -> Vec<&'static IosModule> {
    vec![
        &backup_info::BackupInfo,
        &configuration_profiles::ConfigurationProfiles,
        &manifest::Manifest,
        &profile_events::ProfileEvents,
        &calendar::Calendar,
        &chrome_favicon::ChromeFavicon,
        &chrome_history::ChromeHistory,
        &contacts::Contacts,
        &firefox_favicon::FirefoxFavicon,
        &firefox_history::FirefoxHistory,
        &id_status_cache::IdStatusCache,
        &interaction_c::InteractionC,
        &locationd_clients::LocationdClients,
        &os_analytics_ad_daily::OsAnalyticsAdDaily,
        &datausage::Datausage,
        &safari_browser_state::SafariBrowserState,
        &safari_history::SafariHistory,
        &global_preferences::GlobalPreferences,
        &tcc::Tcc,
        &sms::Sms,
        &sms_attachments::SmsAttachments,
        &webkit_resource_load_statistics::WebkitResourceLoadStatistics,
        &webkit_session_resource_log::WebkitSessionResourceLog,
        &whatsapp::Whatsapp,
        &whatsapp_contacts::WhatsappContacts,
        &shortcuts::Shortcuts,
        &applications::Applications,
        &calls::Calls,
    ]
}
