import{a}from"./chunk-FYSQH2AA.js";import"./chunk-Y5GTPNI3.js";import"./chunk-KYUVIMTE.js";export{a as PrivacyButton};
