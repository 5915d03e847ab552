//! Plain-language steps a member follows alone, with no computer, to give the security office
//! what a check reads: a sysdiagnose on an iPhone, a bug report on Android. Written once, for
//! `portcullis guide` and for report.html.

/// One guide: what it is for, the steps, and what to know before sending the file.
#[derive(Debug, Clone, Copy)]
pub struct Guide {
    /// The name `portcullis guide` takes.
    pub id: &'static str,
    pub title: &'static str,
    pub intro: &'static str,
    pub steps: &'static [&'static str],
    pub notes: &'static [&'static str],
}

pub const SYSDIAGNOSE: Guide = Guide {
    id: "sysdiagnose",
    title: "Make a sysdiagnose on an iPhone",
    intro: "A sysdiagnose is a set of the iPhone's own diagnostic logs. It records which \
            programs ran, which ones crashed and which ones held up a restart, which is where \
            some spyware has been found. You can make one alone, anywhere, without a computer.",
    steps: &[
        "Press both volume buttons and the side button at the same time, hold them for about \
         one second, then let go. The iPhone vibrates briefly. (If the screen shows the \
         power-off slider, you held too long: cancel and try again with a shorter press.)",
        "Wait about 10 minutes and keep using the phone as normal: it gathers the logs in the \
         background.",
        "Open Settings, then Privacy & Security, then Analytics & Improvements, then Analytics \
         Data.",
        "Find the file whose name starts with \"sysdiagnose_\" and today's date (the list is \
         in alphabetical order). If it is not there yet, wait a few more minutes.",
        "Tap the file, then the Share button, and send it the way your security office told \
         you (for example AirDrop to their computer, or their secure upload page).",
    ],
    notes: &[
        "The file is large (often 200 to 500 MB); use Wi-Fi.",
        "It holds personal details (the names of apps and networks, times of use). Send it only \
         to your security office, never by ordinary e-mail or chat.",
        "Make it as soon as you can after anything unusual: some of its logs reach back only \
         a few days.",
    ],
};

pub const BUGREPORT: Guide = Guide {
    id: "bugreport",
    title: "Make a bug report on an Android phone",
    intro: "A bug report is a snapshot of the phone's own diagnostic data: the installed apps \
            and their permissions, running programs and recent system events. You can make one \
            alone, without a computer.",
    steps: &[
        "Turn on Developer options: open Settings, then About phone (on Samsung phones: About \
         phone, then Software information), and tap Build number seven times. Enter your PIN \
         if asked. The phone says \"You are now a developer\".",
        "Open Settings, then System, then Developer options (on Samsung phones Developer \
         options is at the bottom of Settings).",
        "Tap Take bug report, choose Full report, and tap Report.",
        "Wait a few minutes for the notification \"Bug report captured\", tap it, and send the \
         file the way your security office told you (for example their secure upload page).",
        "You can turn Developer options off again afterwards, at the top of the Developer \
         options page.",
    ],
    notes: &[
        "The file is often 10 to 50 MB.",
        "It holds personal details (the names of apps, accounts and networks). Send it only to \
         your security office, never by ordinary e-mail or chat.",
    ],
};

/// Every guide, in the order `portcullis guide` lists them.
pub const ALL: &[Guide] = &[SYSDIAGNOSE, BUGREPORT];

impl Guide {
    pub fn find(id: &str) -> Option<&'static Guide> {
        ALL.iter().find(|g| g.id == id)
    }

    /// The guide as plain text with numbered steps, wrapped to 78 columns, for a terminal or
    /// an e-mail.
    pub fn text(&self) -> String {
        let mut out = format!("{}\n\n{}\n", self.title, wrap(self.intro, "", ""));
        for (n, step) in self.steps.iter().enumerate() {
            out.push_str(&wrap(step, &format!("{}. ", n + 1), "   "));
        }
        if !self.notes.is_empty() {
            out.push('\n');
            for note in self.notes {
                out.push_str(&wrap(note, "- ", "  "));
            }
        }
        out
    }
}

/// `text` in lines of at most 78 columns (a longer word stays whole), the first starting with
/// `first` and the others with `rest`.
fn wrap(text: &str, first: &str, rest: &str) -> String {
    const WIDTH: usize = 78;
    let mut out = String::new();
    let mut line = first.to_string();
    let mut empty = true;
    for word in text.split_whitespace() {
        if !empty && line.chars().count() + 1 + word.chars().count() > WIDTH {
            out.push_str(&line);
            out.push('\n');
            line = rest.to_string();
            empty = true;
        }
        if !empty {
            line.push(' ');
        }
        line.push_str(word);
        empty = false;
    }
    out.push_str(&line);
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guides_are_found_by_name_and_number_their_steps() {
        let text = Guide::find("sysdiagnose").unwrap().text();
        assert!(text.starts_with("Make a sysdiagnose on an iPhone\n\n"));
        assert!(text.contains("\n3. Open Settings, then Privacy & Security"));
        assert!(text.contains("\n- The file is large"));
        assert!(text.lines().all(|l| l.chars().count() <= 78), "{text}");
        assert!(text.contains("\n   "), "steps continue indented: {text}");
        assert_eq!(Guide::find("bugreport").unwrap().steps.len(), 5);
        assert!(Guide::find("backup").is_none());
    }
}
