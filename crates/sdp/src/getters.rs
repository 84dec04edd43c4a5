//! The attribute getters shared by the session level and media sections.

/// Getters for attributes that may appear at both levels.
macro_rules! common_getters {
    ($field:ident) => {
        /// Every `a=` line at this level, in order.
        pub fn attributes(&self) -> impl Iterator<Item = Attribute<'_>> {
            self.$field.attributes()
        }

        /// The value of the first `a=<name>` (`Some("")` for a property attribute).
        pub fn attribute(&self, name: &str) -> Option<&str> {
            self.$field.first_value(name)
        }

        /// The values of every `a=<name>`.
        pub fn attribute_values<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'s str> + 's {
            self.$field.values(name)
        }

        /// True when an `a=<name>` is present.
        pub fn has_attribute(&self, name: &str) -> bool {
            self.$field.has(name)
        }

        /// Every attribute of type `T` that parses (all of them, for checked types).
        pub fn typed<'s, T: TypedAttribute<'s> + 's>(&'s self) -> impl Iterator<Item = T> + 's {
            self.$field.typed::<T>()
        }

        /// `a=ice-ufrag` at this level (RFC 8839 §5.4).
        pub fn ice_ufrag(&self) -> Option<&str> {
            self.$field.first_value("ice-ufrag")
        }

        /// `a=ice-pwd` at this level (RFC 8839 §5.4).
        pub fn ice_pwd(&self) -> Option<&str> {
            self.$field.first_value("ice-pwd")
        }

        /// The `a=ice-options` tokens at this level (`trickle`, `renomination`, ...).
        pub fn ice_options(&self) -> impl Iterator<Item = &str> {
            self.$field
                .values("ice-options")
                .flat_map(|v| split_byte(v, b' ').filter(|t| !t.is_empty()))
        }

        /// `a=fingerprint` lines at this level (RFC 8122; there may be several).
        pub fn fingerprints(&self) -> impl Iterator<Item = Fingerprint<'_>> {
            self.$field.typed::<Fingerprint<'_>>()
        }

        /// `a=setup` at this level (RFC 4145, RFC 8842).
        pub fn setup(&self) -> Option<Setup> {
            self.$field.typed::<Setup>().next()
        }

        /// `a=extmap` lines at this level (RFC 8285).
        pub fn extmaps(&self) -> impl Iterator<Item = ExtMap<'_>> {
            self.$field.typed::<ExtMap<'_>>()
        }

        /// `a=extmap-allow-mixed` (RFC 8285 §6): one- and two-byte header
        /// extensions may be mixed.
        pub fn extmap_allow_mixed(&self) -> bool {
            self.$field.has("extmap-allow-mixed")
        }
    };
}
pub(crate) use common_getters;
