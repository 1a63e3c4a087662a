//! List every page first, then act: the state of a multi-page listing inside a flow.
//!
//! Some cuts are "find the targets, then cut them" (EMQX's `terminate` by username: list
//! the user's clients page by page, then kick them all with one bulk call). Acting on a
//! partial list would cut fewer targets than asked, and acting page by page would shift
//! the vendor's pages under the listing; so the flow reads **every** page first and acts
//! once on what it collected. A [`Listing`] is that reading's state, kept in the flow:
//!
//! 1. [`Listing::new`] with the first page's [`Position`]; plan the list call for
//!    [`Listing::position`] and send it.
//! 2. On each answer, read the vendor's page into a [`Page`] (its items and where the next
//!    page is, if there is one) and give it to [`Listing::add`]:
//!    [`Progress::More`] — plan the call for [`Listing::position`] again (now the next
//!    page); [`Progress::Complete`] — every page is read: act on [`Listing::items`].
//! 3. On [`Input::Retry`](crate::Input::Retry), plan the call for [`Listing::position`]:
//!    it still names the page whose answer was lost.
//!
//! Items are kept once each, in the order first seen: a vendor's pages shift while they are
//! read (a client connects, another leaves), so one item may appear on two pages. The
//! listing is bounded: a vendor that keeps announcing a next page past `max_pages`, or
//! names the page just read as the next one, ends the flow with a problem instead of
//! looping until the request's deadline.
//!
//! ```
//! use sever_plugin_sdk::paging::{Listing, Page, Position, Progress};
//!
//! let mut listing = Listing::new(Position::Number(1), 10);
//! assert_eq!(listing.position(), &Position::Number(1));
//! // Page 1 says there is more…
//! let page = Page { items: vec!["c1".to_owned(), "c2".to_owned()], next: Some(Position::Number(2)) };
//! assert_eq!(listing.add(page), Ok(Progress::More));
//! assert_eq!(listing.position(), &Position::Number(2));
//! // …page 2 is the last one (and repeats c2, which shifted).
//! let page = Page { items: vec!["c2".to_owned(), "c3".to_owned()], next: None };
//! assert_eq!(listing.add(page), Ok(Progress::Complete));
//! assert_eq!(listing.items(), ["c1", "c2", "c3"]);
//! assert_eq!(listing.pages_read(), 2);
//! ```

use std::collections::HashSet;
use std::fmt;
use std::hash::Hash;

use sever_plugin_abi::{Problem, ProblemKind};

/// Where a page starts, in the vendor's own terms.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Position {
    /// A page number (EMQX's `page=1`, `page=2`…).
    Number(u64),
    /// An item offset (`offset=0`, `offset=100`…).
    Offset(u64),
    /// An opaque cursor the vendor handed out with the previous page (HiveMQ's `cursor`).
    Cursor(String),
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Position::Number(n) => write!(f, "page {n}"),
            Position::Offset(n) => write!(f, "offset {n}"),
            Position::Cursor(_) => f.write_str("the vendor's cursor"),
        }
    }
}

/// One page of a vendor's list, as the adapter read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    /// The items this page holds (already filtered to the ones the flow looks for).
    pub items: Vec<T>,
    /// Where the next page starts; `None` when this page is the last.
    pub next: Option<Position>,
}

/// What [`Listing::add`] says to do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// Ask for the page at [`Listing::position`].
    More,
    /// Every page is read: act on [`Listing::items`].
    Complete,
}

/// The state of one multi-page listing: where it is, what it collected, how many pages it
/// read. See the [module documentation](self).
#[derive(Debug, Clone)]
pub struct Listing<T> {
    position: Position,
    items: Vec<T>,
    seen: HashSet<T>,
    pages: u32,
    max_pages: u32,
}

impl<T: Clone + Eq + Hash> Listing<T> {
    /// A listing that starts at `first` and reads at most `max_pages` pages (at least one).
    pub fn new(first: Position, max_pages: u32) -> Self {
        Listing {
            position: first,
            items: Vec::new(),
            seen: HashSet::new(),
            pages: 0,
            max_pages: max_pages.max(1),
        }
    }

    /// The page to ask for now: the first one, the next one after [`Listing::add`] said
    /// [`Progress::More`], and still the same one on a retry.
    pub fn position(&self) -> &Position {
        &self.position
    }

    /// Pages read so far.
    pub fn pages_read(&self) -> u32 {
        self.pages
    }

    /// The items collected so far, each once, in the order first seen.
    pub fn items(&self) -> &[T] {
        &self.items
    }

    /// The items collected, each once, in the order first seen.
    pub fn into_items(self) -> Vec<T> {
        self.items
    }

    /// Adds the page just read at [`Listing::position`] and moves to the next one.
    ///
    /// A problem (kind [`ProblemKind::Unreadable`], answered `upstream_error`) when the
    /// vendor's answer cannot be a true listing: its next page is the one just read, or it
    /// announces a page past `max_pages` ([`ListingError::into_problem`] words it).
    pub fn add(&mut self, page: Page<T>) -> Result<Progress, ListingError> {
        self.pages += 1;
        for item in page.items {
            if self.seen.insert(item.clone()) {
                self.items.push(item);
            }
        }
        let Some(next) = page.next else {
            return Ok(Progress::Complete);
        };
        if next == self.position {
            return Err(ListingError::Stuck(next));
        }
        if self.pages >= self.max_pages {
            return Err(ListingError::TooManyPages(self.max_pages));
        }
        self.position = next;
        Ok(Progress::More)
    }
}

/// Why a listing cannot be completed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListingError {
    /// The vendor named the page just read as the next one.
    Stuck(Position),
    /// The vendor still announced a next page after this many.
    TooManyPages(u32),
}

impl ListingError {
    /// The canonical problem: [`ProblemKind::Unreadable`] (the vendor's listing cannot be
    /// read to its end), with `what` (the list, in the adapter's words) in the detail. Add
    /// the vendor's status with [`Problem::with_vendor`] where it helps.
    pub fn into_problem(self, what: &str) -> Problem {
        let detail = match self {
            ListingError::Stuck(position) => format!(
                "listing {what}: the vendor named {position}, the page just read, as the next \
                 page; nothing was cut"
            ),
            ListingError::TooManyPages(max) => format!(
                "listing {what}: the vendor still announced a next page after {max} pages; \
                 nothing was cut"
            ),
        };
        Problem::new(ProblemKind::Unreadable, detail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(items: &[&str], next: Option<Position>) -> Page<String> {
        Page {
            items: items.iter().map(|s| (*s).to_owned()).collect(),
            next,
        }
    }

    #[test]
    fn a_single_page_completes_at_once() {
        let mut listing = Listing::new(Position::Offset(0), 5);
        assert_eq!(listing.add(page(&["a"], None)), Ok(Progress::Complete));
        assert_eq!(listing.items(), ["a"]);
        assert_eq!(listing.pages_read(), 1);
    }

    #[test]
    fn an_empty_listing_completes_with_no_items() {
        let mut listing: Listing<String> = Listing::new(Position::Number(1), 5);
        assert_eq!(listing.add(page(&[], None)), Ok(Progress::Complete));
        assert!(listing.into_items().is_empty());
    }

    #[test]
    fn the_position_moves_only_when_a_page_is_added() {
        let mut listing = Listing::new(Position::Cursor("start".into()), 5);
        // A retry plans the same page: the position has not moved.
        assert_eq!(listing.position(), &Position::Cursor("start".into()));
        let next = Some(Position::Cursor("c2".into()));
        assert_eq!(listing.add(page(&["a"], next)), Ok(Progress::More));
        assert_eq!(listing.position(), &Position::Cursor("c2".into()));
        assert_eq!(listing.add(page(&["b"], None)), Ok(Progress::Complete));
        assert_eq!(listing.items(), ["a", "b"]);
    }

    #[test]
    fn items_repeated_on_shifted_pages_are_kept_once_in_first_seen_order() {
        let mut listing = Listing::new(Position::Number(1), 5);
        let two = Some(Position::Number(2));
        assert_eq!(listing.add(page(&["b", "a", "b"], two)), Ok(Progress::More));
        assert_eq!(listing.add(page(&["a", "c"], None)), Ok(Progress::Complete));
        assert_eq!(listing.items(), ["b", "a", "c"]);
    }

    #[test]
    fn a_vendor_that_never_stops_is_a_problem_after_max_pages() {
        let mut listing = Listing::new(Position::Number(1), 3);
        for n in 2..=3 {
            let more = listing.add(page(&["x"], Some(Position::Number(n))));
            assert_eq!(more, Ok(Progress::More));
        }
        let error = listing.add(page(&["y"], Some(Position::Number(4))));
        assert_eq!(error, Err(ListingError::TooManyPages(3)));
        let problem = ListingError::TooManyPages(3).into_problem("the clients of user 'u'");
        assert_eq!(problem.kind, ProblemKind::Unreadable);
        assert!(
            problem.detail.contains("after 3 pages"),
            "{}",
            problem.detail
        );
        assert!(problem.detail.contains("user 'u'"), "{}", problem.detail);
    }

    #[test]
    fn a_next_page_equal_to_the_page_just_read_is_a_problem_not_a_loop() {
        let mut listing = Listing::new(Position::Number(1), 100);
        let stuck = listing.add(page(&["a"], Some(Position::Number(1))));
        assert_eq!(stuck, Err(ListingError::Stuck(Position::Number(1))));
        let detail = ListingError::Stuck(Position::Number(1))
            .into_problem("x")
            .detail;
        assert!(detail.contains("page 1, the page just read"), "{detail}");
    }

    #[test]
    fn max_pages_is_at_least_one() {
        let mut listing = Listing::new(Position::Number(1), 0);
        let error = listing.add(page(&[], Some(Position::Number(2))));
        assert_eq!(error, Err(ListingError::TooManyPages(1)));
    }

    #[test]
    fn cursors_are_not_shown_in_details() {
        let detail = ListingError::Stuck(Position::Cursor("opaque-secretish".into()))
            .into_problem("x")
            .detail;
        assert!(!detail.contains("opaque"), "{detail}");
    }
}
