//! A report as a document: a title and a list of blocks, all plain text. Builders decide what
//! a report says (`report.rs` for a scenario's `report.md`/`report.html`, `cmd/compare.rs` for
//! `compare.md`/`compare.html`); the writers decide how it looks (`markdown.rs`, `html.rs`), so
//! every report escapes, colours and embeds charts the same way.

/// A whole report: its title (the Markdown `#` heading, the HTML `<title>` and `<h1>`) and
/// its blocks in order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Document {
    /// The report's title.
    pub title: String,
    /// The content under the title, in order.
    pub blocks: Vec<Block>,
}

/// One piece of a document. All text is plain: the writers escape it for their format.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Block {
    /// A section heading below the title: `level` 2 is a section, 3 a subsection.
    Heading {
        /// 2 to 6 (the title is level 1).
        level: u8,
        /// The heading's text.
        text: String,
        /// An id to link to (`report.html#verdicts`); Markdown has none.
        anchor: Option<String>,
    },
    /// A paragraph.
    Paragraph(String),
    /// Key/value facts (where a run happened, what a kernel calibrated).
    Definitions(Vec<(String, String)>),
    /// A table.
    Table(Table),
    /// A bullet list.
    Bullets(Vec<String>),
    /// A quoted remark (a kernel's finding).
    Quote(String),
    /// A chart from the run's `charts/` directory: `charts/<slug>.png`.
    Image {
        /// Alt text and caption.
        title: String,
        /// The chart's file name without extension.
        slug: String,
    },
    /// Links to anchors in the same report: a table of contents, or the claims a decision
    /// turns on. Each item: the anchor, its text, and an optional verdict shown as a badge.
    Links(Vec<Link>),
    /// Claims of record, one compact row each with its details beneath, and the charts that
    /// judge them (a chart judges a claim when the claim's metric is on its y axis).
    Claims(ClaimGroup),
    /// A long table grouped by a key (a point): the key once, as a row spanning the table,
    /// then its rows.
    Grouped(GroupedTable),
    /// A chart drawn by the report's builder as a complete `<svg>` element (trusted markup,
    /// inlined in HTML; Markdown says where to see it).
    Svg {
        /// Caption.
        title: String,
        /// The `<svg>…</svg>` element.
        svg: String,
    },
    /// A table whose cells in column `link_col` link to `hrefs[row]` (relative paths).
    LinkedTable {
        /// The table.
        table: Table,
        /// The column whose cells are links.
        link_col: usize,
        /// One target per row.
        hrefs: Vec<String>,
    },
}

/// A link to an anchor of the same report.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Link {
    /// The anchor (`claim-p99-under-2s`), without `#`.
    pub anchor: String,
    /// The link's text.
    pub text: String,
    /// A verdict shown as a badge before the text.
    pub verdict: Option<String>,
    /// Text after the link (a one-line why).
    pub after: String,
}

/// One claim of record in compact form.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClaimEntry {
    /// Its anchor (`claim-<id>`).
    pub anchor: String,
    /// The claim's id.
    pub id: String,
    /// The sentence claimed.
    pub text: String,
    /// Its verdict of record.
    pub verdict: String,
    /// Measured vs expected, in human units, and where.
    pub measured: String,
    /// What would flip it (`-` when nothing found).
    pub flip: String,
    /// Details shown when expanded: reason, note, rule.
    pub details: Vec<(String, String)>,
    /// Its what-if rows (other points it was judged at).
    pub what_if: Option<Table>,
}

/// Claims shown together, and the charts that judge them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClaimGroup {
    /// The claims, in the decision's order.
    pub claims: Vec<ClaimEntry>,
    /// (title, slug) of the charts drawn next to them.
    pub charts: Vec<(String, String)>,
    /// (title, slug) of charts that judge them too but are drawn beside an earlier group.
    pub see_also: Vec<(String, String)>,
}

/// A table whose rows come in named groups.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GroupedTable {
    /// Column headers.
    pub headers: Vec<String>,
    /// (group heading, its rows).
    pub groups: Vec<(String, Vec<Vec<String>>)>,
}

/// A table: headers and rows of plain-text cells.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Table {
    /// Column headers.
    pub headers: Vec<String>,
    /// Rows, each as many cells as there are headers.
    pub rows: Vec<Vec<String>>,
    /// Column holding a verdict (`holds`, `fails`, ...), coloured in HTML.
    pub verdict_col: Option<usize>,
}

impl Document {
    /// An empty document titled `title`.
    pub fn new(title: impl Into<String>) -> Document {
        Document {
            title: title.into(),
            blocks: Vec::new(),
        }
    }

    /// Appends a block.
    pub fn push(&mut self, block: Block) {
        self.blocks.push(block);
    }

    /// Appends a heading of `level` with an optional anchor.
    pub fn heading(&mut self, level: u8, text: impl Into<String>, anchor: Option<&str>) {
        self.push(Block::Heading {
            level,
            text: text.into(),
            anchor: anchor.map(String::from),
        });
    }

    /// Appends a paragraph.
    pub fn paragraph(&mut self, text: impl Into<String>) {
        self.push(Block::Paragraph(text.into()));
    }
}

impl Table {
    /// A table with these headers and no rows.
    pub fn new<S: Into<String>>(headers: impl IntoIterator<Item = S>) -> Table {
        Table {
            headers: headers.into_iter().map(Into::into).collect(),
            rows: Vec::new(),
            verdict_col: None,
        }
    }
}
