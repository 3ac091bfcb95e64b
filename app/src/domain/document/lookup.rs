//! Finding a user by what an admin typed: an exact id wins; otherwise a display name that
//! exactly one user has (ignoring case and surrounding spaces). The caller passes only the
//! users the admin may see, so a name never finds someone hidden.

use super::UserDoc;

/// Why `text` names no single user.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UserLookupError {
    #[error("user: no user has the id or name {0:?}")]
    NotFound(String),
    #[error("user: {count} users are named {name:?} (ids {ids}); give the id")]
    Ambiguous {
        name: String,
        count: usize,
        ids: String,
    },
}

/// The id of the user `text` names among `users`.
pub fn find_user<'a>(users: &'a [UserDoc], text: &str) -> Result<&'a str, UserLookupError> {
    let text = text.trim();
    if let Some(user) = users.iter().find(|u| u.id == text) {
        return Ok(&user.id);
    }
    let wanted = text.to_lowercase();
    let named: Vec<&UserDoc> = users
        .iter()
        .filter(|u| u.name.trim().to_lowercase() == wanted)
        .collect();
    match named.as_slice() {
        [one] => Ok(&one.id),
        [] => Err(UserLookupError::NotFound(text.to_owned())),
        many => Err(UserLookupError::Ambiguous {
            name: text.to_owned(),
            count: many.len(),
            ids: many
                .iter()
                .map(|u| u.id.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: &str, name: &str) -> UserDoc {
        UserDoc {
            id: id.into(),
            name: name.into(),
            tenant: Some("mercy".into()),
            department: None,
            groups: Vec::new(),
            traits: Vec::new(),
            disabled: false,
        }
    }

    #[test]
    fn finds_by_id_then_by_unique_name() {
        let users = [
            user("alice", "Alice Moreau"),
            user("bob", "Bob Lee"),
            user("bob2", "Bob Lee"),
            // An id that is also someone else's name: the id wins.
            user("carol", "alice"),
        ];
        let cases: [(&str, Result<&str, UserLookupError>); 6] = [
            ("alice", Ok("alice")),
            ("  alice moreau ", Ok("alice")),
            ("ALICE MOREAU", Ok("alice")),
            ("carol", Ok("carol")),
            (
                "Bob Lee",
                Err(UserLookupError::Ambiguous {
                    name: "Bob Lee".into(),
                    count: 2,
                    ids: "bob, bob2".into(),
                }),
            ),
            ("dave", Err(UserLookupError::NotFound("dave".into()))),
        ];
        for (text, expected) in cases {
            assert_eq!(find_user(&users, text), expected, "{text:?}");
        }
    }

    #[test]
    fn the_messages_name_the_field() {
        let users = [user("a", "Same"), user("b", "same")];
        let err = find_user(&users, "same").unwrap_err();
        assert_eq!(
            err.to_string(),
            "user: 2 users are named \"same\" (ids a, b); give the id"
        );
        assert!(
            find_user(&[], "x")
                .unwrap_err()
                .to_string()
                .starts_with("user: ")
        );
    }
}
