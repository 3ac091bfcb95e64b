//! The console frame: header, navigation and the main area.

use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::use_location;

use crate::auth::{Logout, whoami};

/// The console's sections, in navigation order.
const SECTIONS: [(&str, &str); 9] = [
    ("/", "Overview"),
    ("/configuration", "Configuration"),
    ("/changes", "Changes"),
    ("/preview", "Preview"),
    ("/audit", "Audit"),
    ("/directory", "Directory"),
    ("/keys", "Keys"),
    ("/templates", "Templates"),
    ("/import", "Import"),
];

#[component]
pub fn ConsoleLayout(children: Children) -> impl IntoView {
    // On narrow screens the navigation folds behind a button; it opens only once hydrated.
    let (menu_open, set_menu_open) = signal(false);
    // Effects run only in the browser, so this flips once hydration is done (tests wait on it).
    let (hydrated, set_hydrated) = signal(false);
    Effect::new(move |_| set_hydrated.set(true));
    let logout = ServerAction::<Logout>::new();
    // Asked again on every navigation, so signing in or out shows at once.
    let path = use_location().pathname;
    let me = Resource::new(move || path.get(), |_| whoami());
    let on_login_page = move || path.get() == "/login";

    view! {
        <div class="console" data-hydrated=move || hydrated.get().to_string()>
        // `rel="external"` keeps the router from taking the click: the browser's own fragment
        // navigation is what moves the focus into the main area.
        <a class="skip-link" href="#main" rel="external">"Skip to content"</a>
        <header class="topbar">
            <a class="brand" href="/">
                <span class="brand-mark" aria-hidden="true"></span>
                <span class="brand-name">"Strata"</span>
                <span class="brand-tagline">"Configuration console"</span>
            </a>
            <Suspense fallback=|| ()>
                {move || me.get().and_then(Result::ok).flatten().map(|me| view! {
                    <div class="account">
                        <span class="account-name" data-testid="signed-in-as">{me.user}</span>
                        <ActionForm action=logout>
                            <button type="submit" class="link-button">"Sign out"</button>
                        </ActionForm>
                    </div>
                })}
            </Suspense>
            <button
                type="button"
                class="menu-toggle"
                aria-controls="primary-nav"
                aria-expanded=move || menu_open.get().to_string()
                on:click=move |_| set_menu_open.update(|open| *open = !*open)
            >
                "Menu"
            </button>
        </header>
        <div class="frame">
            <nav
                hidden=on_login_page
                id="primary-nav"
                class="sidebar"
                class:open=move || menu_open.get()
                aria-label="Sections"
            >
                // A transition: the links stay while `me` is asked again on navigation.
                <Transition fallback=|| ()>
                    {move || {
                        let me = me.get().and_then(Result::ok).flatten();
                        // An account without the console trait has "My settings" alone.
                        let console = me.as_ref().is_none_or(|me| me.console);
                        let sections = SECTIONS.into_iter().filter(move |_| console);
                        let own = me.is_some().then_some(("/me", "My settings"));
                        view! {
                            <ul>
                                {sections
                                    .chain(own)
                                    .map(|(href, label)| {
                                        view! {
                                            <li>
                                                <A href=href exact=true on:click=move |_| set_menu_open.set(false)>
                                                    {label}
                                                </A>
                                            </li>
                                        }
                                    })
                                    .collect_view()}
                            </ul>
                        }
                    }}
                </Transition>
            </nav>
            <main id="main" tabindex="-1">
                {children()}
            </main>
        </div>
        </div>
    }
}
