function i(t,o="Visitor"){return t?.contact_name?.trim()||t?.visitor_name||o}function n(t){return t?.contact_email?.trim()||t?.visitor_email?.trim()||""}export{i as a,n as b};
